package gateway_test

import (
	"bufio"
	"strings"
	"testing"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestNoSecretsInLogs: at debug level, through success, 401,
// 403, 413, upstream errors, a client that leaves mid-stream and a key
// in a query string, neither the client's key nor the upstream
// credential appears in the logs, an error body or a generation record.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t)
	u := &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}
	key := e.key(usd(1))
	spent := e.key(usd(0.000001))
	quoting := `{"error":{"message":"invalid key ` + upstreamKey + `"}}`
	tests := []struct {
		name   string
		reply  upstreamtest.Reply
		key    string
		path   string
		body   any
		status int
	}{
		{"success", upstreamtest.Reply{Usage: u}, key, "", nil, 200},
		{"stream", upstreamtest.Reply{Usage: u}, key, "", chat("t/cheap", true), 200},
		{"unknown-key", upstreamtest.Reply{}, key + "x", "", nil, 401},
		{"key-in-query", upstreamtest.Reply{}, "", "/api/v1/chat/completions?key=" + key + "&api_key=" + key, nil, 401},
		{"over-limit", upstreamtest.Reply{Usage: u}, spent, "", nil, 200},
		{"over-limit-refused", upstreamtest.Reply{Usage: u}, spent, "", nil, 403},
		{"too-large", upstreamtest.Reply{}, key, "", `{"model":"t/cheap","x":"` + strings.Repeat("a", 70<<10) + `"}`, 413},
		{"upstream-401", upstreamtest.Reply{Status: 401, Body: quoting}, key, "", nil, 502},
		{"upstream-400", upstreamtest.Reply{Status: 400, Body: quoting}, key, "", nil, 400},
		{"upstream-500", upstreamtest.Reply{Status: 500, Body: quoting}, key, "", nil, 502},
		{"upstream-error-event", upstreamtest.Reply{ErrorAfter: 1, ErrorEvent: quoting, Content: []string{"a", "b"}}, key, "", chat("t/cheap", true), 200},
		{"generation-lookup-with-key-as-id", upstreamtest.Reply{}, key, "/api/v1/generation?id=" + key, nil, 404},
	}
	var ids []string // of the unstreamed answers
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.script("cheap-v2", tt.reply)
			path, body := tt.path, tt.body
			if path == "" {
				path = "/api/v1/chat/completions"
			}
			if body == nil {
				body = chat("t/cheap", false)
			}
			var r *response
			if strings.HasPrefix(path, "/api/v1/generation") {
				r = e.get(path, tt.key)
			} else {
				r = e.post(path, tt.key, body)
			}
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if id := r.header.Get("X-Generation-Id"); id != "" {
				ids = append(ids, id)
			}
			for _, s := range []string{key, upstreamKey, key[len(key)-12:]} {
				if strings.Contains(string(r.body), s) || strings.Contains(r.header.Get("X-Generation-Id"), s) {
					t.Errorf("the answer quotes a secret: %s", r.body)
				}
			}
		})
	}
	// A client that leaves mid-stream.
	hold := make(chan struct{})
	defer close(hold)
	e.script("cheap-v2", upstreamtest.Reply{Hold: hold, Content: []string{"a", "b"}})
	resp := e.stream(key, chat("t/cheap", true))
	readEvent(t, bufio.NewReader(resp.Body))
	resp.Body.Close()
	waitFor(t, "the cancel", func() bool { return len(e.up.Cancelled()) == 1 })

	logs := e.logs.String()
	for _, s := range []string{key, upstreamKey, key[len(key)-12:], upstreamKey[len(upstreamKey)-8:]} {
		if i := strings.Index(logs, s); i >= 0 {
			t.Errorf("the logs hold a secret: …%s…", logs[max(i-200, 0):min(i+50, len(logs))])
		}
	}
	if len(ids) < 2 {
		t.Fatalf("generation ids %q", ids)
	}
	for _, id := range ids {
		g, err := e.svc.Generation(t.Context(), e.user.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{g.ID, g.Model, g.UpstreamModel, g.Provider, g.KeyHash} {
			if strings.Contains(f, key[4:]) || strings.Contains(f, upstreamKey) {
				t.Errorf("generation %s holds a secret", id)
			}
		}
	}
}
