package gateway_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestPromptEstimateIgnoresSpacing: an answer without usage is charged by
// the fallback estimate, which counts the body without the whitespace
// between its JSON tokens: a pretty-printed request costs what the same
// request compact costs.
func TestPromptEstimateIgnoresSpacing(t *testing.T) {
	e := newEnv(t)
	// "t/plain" is served by the "t/*" pattern, under its own name.
	e.script("t/plain", upstreamtest.Reply{Content: []string{"Hello there"}})
	compact := `{"model":"t/plain","messages":[{"role":"user","content":"hi  there"}]}`
	pad := "\n" + strings.Repeat(" ", 400)
	pretty := "{" + pad + `"model":` + pad + `"t/plain",` + pad + `"messages": [` + pad + `{"role": "user", "content": "hi  there"}` + pad + "]" + pad + "}"
	var spent [2]int64
	for i, body := range []string{compact, pretty} {
		key := e.key(nil)
		if r := e.post("/api/v1/chat/completions", key, body); r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		spent[i] = int64(e.spent(key))
	}
	if spent[0] == 0 || spent[0] != spent[1] {
		t.Errorf("charged %d µ$ compact and %d µ$ pretty-printed, want the same, above 0", spent[0], spent[1])
	}
}

// TestForwardedBody: the body sent upstream has the upstream's model name,
// its members sorted, the whitespace between tokens gone and every byte of
// the strings kept: "<" is not HTML-escaped, two spaces stay two.
func TestForwardedBody(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 1, CompletionTokens: 1}})
	body := "{\n  \"temperature\": 0.5,\n  \"model\": \"t/cheap\",\n  \"messages\": [ {\"role\": \"user\", \"content\": \"<b>hi  there</b> & \\u00e9\"} ]\n}"
	if r := e.post("/api/v1/chat/completions", e.key(nil), body); r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	reqs := e.up.Requests()
	got := string(reqs[len(reqs)-1].Body)
	want := `{"messages":[{"role":"user","content":"<b>hi  there</b> & \u00e9"}],"model":"cheap-v2","temperature":0.5}`
	if got != want {
		t.Errorf("forwarded body\n%s\nwant\n%s", got, want)
	}
}
