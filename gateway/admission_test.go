package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestAdmission checks the refusals before forwarding, in their order:
// body cap 413, unknown model 400 (before the key is looked at), key 401,
// a management key 403 (it only manages keys), limit 403. The upstream is never called for any of them.
func TestAdmission(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	good := e.key(usd(1))
	spentOut := e.key(usd(0))
	disabled := e.key(nil)
	if _, err := e.svc.SetKeyDisabled(t.Context(), e.user.ID, hashOf(t, e, disabled), true); err != nil {
		t.Fatal(err)
	}
	management, _, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: e.user.ID, Name: "m", IsManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"model":"t/cheap","messages":[{"role":"user","content":"` + strings.Repeat("x", 65<<10) + `"}]}`
	tests := []struct {
		name       string
		path       string
		key        string
		body       any
		wantStatus int
		wantMsg    string
	}{
		{"too-large", "/api/v1/chat/completions", good, big, 413, "larger than"},
		{"not-json", "/api/v1/chat/completions", good, "{", 400, "JSON object"},
		{"no-model", "/api/v1/chat/completions", good, map[string]any{"messages": []any{}}, 400, "model is required"},
		{"unknown-model-before-key", "/api/v1/chat/completions", "", chat("acme/nope", false), 400, `Model "acme/nope" is not available`},
		{"bad-max-tokens", "/api/v1/chat/completions", good, chat("t/cheap", false, "max_tokens", -1), 400, "max_tokens"},
		{"bad-stream", "/api/v1/chat/completions", good, chat("t/cheap", false, "stream", "yes"), 400, "stream must be a boolean"},
		{"missing-key", "/api/v1/chat/completions", "", chat("t/cheap", false), 401, "Missing"},
		{"unknown-key", "/api/v1/chat/completions", "sk-or-v1-" + strings.Repeat("0", 64), chat("t/cheap", false), 401, ""},
		{"disabled-key", "/api/v1/chat/completions", disabled, chat("t/cheap", false), 401, "disabled"},
		{"management-key", "/api/v1/chat/completions", management, chat("t/cheap", false), 403, "Management keys cannot make requests that spend"},
		{"management-key-embeddings", "/api/v1/embeddings", management, map[string]any{"model": "t/cheap", "input": "hi"}, 403, "Management keys cannot"},
		{"limit-chat", "/api/v1/chat/completions", spentOut, chat("t/cheap", false), 403, "Key limit exceeded (total limit)"},
		{"limit-completions", "/api/v1/completions", spentOut, map[string]any{"model": "t/cheap", "prompt": "hi"}, 403, "Key limit exceeded (total limit)"},
		{"limit-embeddings", "/api/v1/embeddings", spentOut, map[string]any{"model": "t/cheap", "input": "hi"}, 403, "Key limit exceeded (total limit)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.up.Requests())
			r := e.post(tt.path, tt.key, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("POST %s = %d %s, want %d", tt.path, r.status, r.body, tt.wantStatus)
			}
			if msg := r.errMessage(t); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q, want it to contain %q", msg, tt.wantMsg)
			}
			if n := len(e.up.Requests()) - before; n != 0 {
				t.Errorf("the upstream was called %d times", n)
			}
		})
	}
	t.Run("get-is-405", func(t *testing.T) {
		r := e.get("/api/v1/chat/completions", good)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Errorf("GET chat/completions = %d Allow %q", r.status, r.header.Get("Allow"))
		}
	})
	t.Run("other-paths-stay-404", func(t *testing.T) {
		if r := e.get("/api/v1/nope", good); r.status != 404 {
			t.Errorf("GET /api/v1/nope = %d", r.status)
		}
	})
}

// TestForwardedRequest checks what the upstream receives: its own
// credential only, none of the client's or keygate's headers, the
// configured upstream model, no steering members, and a usage request
// added to streams.
func TestForwardedRequest(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(nil)
	body := `{"model":"t/cheap","stream":true,"user":"<b>&</b>","messages":[{"role":"user","content":"hi"}],` +
		`"api_base":"http://evil.test","base_url":"http://evil.test","api_key":"sk-stolen-123456789","models":["x/expensive"]}`
	r := e.post("/api/v1/chat/completions?model=t/other", key, body, "X-Keygate-User-Id", "victim", "Cookie", "s=1", "X-Title", "My App")
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	reqs := e.up.Requests()
	got := reqs[len(reqs)-1]
	if got.Path != "/v1/chat/completions" {
		t.Errorf("upstream path %q", got.Path)
	}
	if a := got.Header.Get("Authorization"); a != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q, want the configured credential", a)
	}
	for h := range got.Header {
		if strings.HasPrefix(strings.ToLower(h), "x-keygate") || h == "Cookie" {
			t.Errorf("header %s reached the upstream", h)
		}
	}
	if got.Header.Get("X-Title") != "My App" {
		t.Errorf("X-Title = %q, want it passed on", got.Header.Get("X-Title"))
	}
	b := string(got.Body)
	for _, s := range []string{"evil.test", "sk-stolen", "x/expensive", key} {
		if strings.Contains(b, s) {
			t.Errorf("upstream body %s contains %q", b, s)
		}
	}
	if !strings.Contains(b, `"user":"<b>&</b>"`) {
		t.Errorf("upstream body %s: the user member was changed", b)
	}
	if got.Model != "cheap-v2" || !got.IncludeUsage {
		t.Errorf("upstream model %q include_usage %v, want cheap-v2 true", got.Model, got.IncludeUsage)
	}
}

func hashOf(t *testing.T, e *env, key string) string {
	t.Helper()
	k, err := e.svc.Authenticate(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return k.Hash
}

// TestDelegatedKeyAncestorLimit: a key minted from a key whose limit is
// spent is refused with the same 403 at spend time (delegation never
// escalates), and the upstream is not called.
func TestDelegatedKeyAncestorLimit(t *testing.T) {
	e := newEnv(t)
	parent := e.key(usd(0))
	r := e.post("/api/v1/auth/keys/code", parent, map[string]any{"callback_url": "http://localhost:3000/cb"})
	if r.status != 200 {
		t.Fatalf("create code with the parent key: %d %s", r.status, r.body)
	}
	var code apitype.CreateAuthKeysCodeResponse
	if err := json.Unmarshal(r.body, &code); err != nil {
		t.Fatal(err)
	}
	r = e.post("/api/v1/auth/keys", "", map[string]any{"code": code.Data.ID})
	var minted apitype.ExchangeAuthCodeResponse
	if r.status != 200 || json.Unmarshal(r.body, &minted) != nil {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	before := len(e.up.Requests())
	r = e.post("/api/v1/chat/completions", minted.Key, chat("t/cheap", false))
	if r.status != 403 || r.errMessage(t) != "Key limit exceeded (total limit)" {
		t.Errorf("child of a spent key: %d %s", r.status, r.body)
	}
	if n := len(e.up.Requests()) - before; n != 0 {
		t.Errorf("the upstream was called %d times", n)
	}
}

// TestBrowserPreflight: a browser app may call the gateway with an SDK
// that adds its own headers (the openai package's X-Stainless-*).
func TestBrowserPreflight(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/api/v1/chat/completions", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-stainless-os")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	allow := res.Header.Get("Access-Control-Allow-Headers")
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(allow, "Authorization") || !strings.Contains(allow, "*") {
		t.Errorf("preflight = %d, Allow-Origin %q, Allow-Headers %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), allow)
	}
}
