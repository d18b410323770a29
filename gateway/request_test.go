package gateway_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestRequestBody: the body the upstream receives. A body that needs no
// rewriting goes as it came, byte for byte (spacing and member order
// included); one that does keeps every other member's bytes; a body that
// is not one JSON object, or names a top-level member twice (where keygate
// and the upstream could read different models), is a 400 naming what is
// wrong, and the upstream is not called.
func TestRequestBody(t *testing.T) {
	e := newEnv(t)
	e.script("t/plain", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 1, CompletionTokens: 1}})
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 1, CompletionTokens: 1}})
	key := e.key(nil)
	msgs := `"messages":[{"role":"user","content":"<b>hi</b> \u00e9", "role":"user"}]`
	tests := []struct {
		name, body string
		status     int
		want       string // the upstream's body (200), or a part of the error message
	}{
		{"unchanged", `{ "temperature":0.5, "model":"t/plain",` + msgs + ` }`, 200,
			`{ "temperature":0.5, "model":"t/plain",` + msgs + ` }`},
		{"renamed", `{"temperature":0.5,"model":"t/cheap",` + msgs + `}`, 200,
			`{"temperature":0.5,"model":"cheap-v2",` + msgs + `}`},
		{"steering removed", `{"api_key":"sk-x-123456789","model":"t/plain","models":["a/b"],` + msgs + `,"base_url":"http://x"}`, 200,
			`{"model":"t/plain",` + msgs + `}`},
		{"usage chunk asked for", `{"model":"t/plain","stream":true,` + msgs + `}`, 200,
			`{"model":"t/plain","stream":true,` + msgs + `,"stream_options":{"include_usage":true}}`},
		{"stream options completed", `{"stream_options":{"x":1},"model":"t/plain","stream":true}`, 200,
			`{"stream_options":{"include_usage":true,"x":1},"model":"t/plain","stream":true}`},
		{"model twice", `{"model":"t/plain","model":"x/expensive"}`, 400, `"model" twice`},
		{"twice in another case", `{"model":"t/plain","MODEL":"x/expensive"}`, 400, `"MODEL" twice`},
		{"escaped name twice", `{"model":"t/plain","mod\u0065l":"x/expensive"}`, 400, `"model" twice`},
		{"not an object", `["model"]`, 400, "JSON object"},
		{"trailing data", `{"model":"t/plain"} {}`, 400, "JSON object"},
		{"cut", `{"model":"t/plain",`, 400, "JSON object"},
		{"model not a string", `{"model":7}`, 400, "model is required"},
		{"stream not a boolean", `{"model":"t/plain","stream":"yes"}`, 400, "stream must be a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.up.Requests())
			r := e.post("/api/v1/chat/completions", key, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			reqs := e.up.Requests()
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q, want it to contain %q", msg, tt.want)
				}
				if len(reqs) != before {
					t.Errorf("the upstream was called")
				}
				return
			}
			if got := string(reqs[len(reqs)-1].Body); got != tt.want {
				t.Errorf("upstream body\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestPromptEstimateIgnoresSpacing: an answer without usage is charged by
// the fallback estimate, which counts the body without the whitespace
// between its JSON tokens: a pretty-printed request costs what the same
// request compact costs.
func TestPromptEstimateIgnoresSpacing(t *testing.T) {
	e := newEnv(t)
	// "t/plain" is served by the "t/*" pattern, unrenamed, so its body
	// goes upstream as it came, spacing included.
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
