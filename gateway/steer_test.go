package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestSteeringMembers: members that choose an upstream, a
// credential or headers never reach the upstream, at any depth, in any
// letter case, however escaped; the same names as a tool's parameters or
// in text pass unchanged; the model is taken from the body only and the
// upstream sees its usual path; fallback lists reach only an upstream
// that is priced by its own reported cost.
func TestSteeringMembers(t *testing.T) {
	e := newEnv(t)
	u := &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}
	for _, m := range []string{"cheap-v2", "t/up", "t/../../admin"} {
		e.script(m, upstreamtest.Reply{Usage: u, UsageJSON: `{"prompt_tokens":10,"completion_tokens":20,"cost":0.00012}`})
	}
	key := e.key(nil)
	msgs := `"messages":[{"role":"user","content":"what is \"api_base\" in my config?"}]`
	tool := `"tools":[{"type":"function","function":{"name":"login","parameters":{"type":"object","properties":{"api_key":{"type":"string"}}}}}]`
	tests := []struct {
		name     string
		body     string
		model    string   // the model the upstream is asked for
		absent   []string // in the upstream's body
		contains []string
	}{
		{"top-level", `{"model":"t/cheap",` + msgs + `,"api_base":"http://evil.test","api_key":"sk-stolen","api_version":"x-evil","custom_llm_provider":"evil","extra_headers":{"X-Evil":"1"}}`,
			"cheap-v2", []string{"evil", "sk-stolen", "X-Evil"}, []string{`\"api_base\"`}},
		{"nested", `{"model":"t/cheap",` + msgs + `,"extra_body":{"api_base":"http://evil.test","keep":1},"metadata":{"litellm_params":{"api_key":"sk-stolen"}},"x":[{"base_url":"http://evil.test"}]}`,
			"cheap-v2", []string{"evil", "sk-stolen"}, []string{`"keep":1`, `"litellm_params":{}`}},
		{"letter-case", `{"model":"t/cheap",` + msgs + `,"API_BASE":"http://evil.test","extra_body":{"Api_Key":"sk-stolen"}}`,
			"cheap-v2", []string{"evil", "sk-stolen"}, nil},
		{"escaped-name", `{"model":"t/cheap",` + msgs + `,"api\u005fbase":"http://evil.test","extra_body":{"b\u0061se_url":"http://evil.test"}}`,
			"cheap-v2", []string{"evil"}, nil},
		{"tool-parameter-kept", `{"model":"t/cheap",` + msgs + `,` + tool + `}`,
			"cheap-v2", nil, []string{`"properties":{"api_key":{"type":"string"}}`}},
		{"fallbacks-stripped", `{"model":"t/cheap",` + msgs + `,"models":["x/expensive"],"route":"fallback"}`,
			"cheap-v2", []string{"x/expensive", `"route"`}, nil},
		{"fallbacks-kept-upstream-priced", `{"model":"t/up",` + msgs + `,"models":["x/expensive"]}`,
			"t/up", nil, []string{"x/expensive"}},
		{"model-path-in-body-only", `{"model":"t/../../admin",` + msgs + `}`,
			"t/../../admin", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post("/api/v1/chat/completions", key, tt.body)
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			reqs := e.up.Requests()
			got := reqs[len(reqs)-1]
			if got.Path != "/v1/chat/completions" || got.Model != tt.model {
				t.Errorf("upstream got %s for model %q, want /v1/chat/completions for %q", got.Path, got.Model, tt.model)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer "+upstreamKey {
				t.Errorf("upstream Authorization = %q, want the configured credential", a)
			}
			if got.Header.Get("X-Evil") != "" {
				t.Error("a header named in the body reached the upstream")
			}
			if !json.Valid(got.Body) {
				t.Fatalf("upstream body %s is not JSON", got.Body)
			}
			var decoded map[string]any
			json.Unmarshal(got.Body, &decoded)
			norm, _ := json.Marshal(decoded) // escapes decoded: a hidden name shows
			for _, s := range tt.absent {
				if strings.Contains(string(got.Body), s) || strings.Contains(string(norm), s) {
					t.Errorf("upstream body %s contains %q", got.Body, s)
				}
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(got.Body), s) {
					t.Errorf("upstream body %s lacks %q", got.Body, s)
				}
			}
		})
	}
}

// TestCaseVariantMembers: a member that names one keygate reads in other
// letters is a 400, since an upstream that decodes names
// case-insensitively would stream, or generate more, than keygate metered
// for; the upstream is not called.
func TestCaseVariantMembers(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	tests := []struct {
		name   string
		extra  []any
		status int
	}{
		{"Stream", []any{"Stream", true}, 400},
		{"MAX_TOKENS", []any{"MAX_TOKENS", 100000}, 400},
		{"N", []any{"N", 50}, 400},
		{"Model", []any{"Model", "x/expensive"}, 400},
		{"other-members-any-case", []any{"Temperature", 0.5, "TopP", 1}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.up.Requests())
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false, tt.extra...))
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status == 400 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.name) {
					t.Errorf("message %q does not name %s", msg, tt.name)
				}
				if len(e.up.Requests()) != before {
					t.Error("the upstream was called")
				}
			}
		})
	}
}

// TestSteeringDeep: a steering member nested deeper than keygate walks is
// a 400, answered at once (walking level by level would take time growing
// with the square of the depth); as deep a body without one is forwarded.
func TestSteeringDeep(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(nil)
	const depth = 9_000
	pad := strings.Repeat("p", 30_000)
	nest := func(inner string) string {
		return `{"model":"t/cheap","messages":[{"role":"user","content":"hi"}],"extra_body":` +
			strings.Repeat("[", depth) + inner + strings.Repeat("]", depth) + `}`
	}
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"steering-at-the-bottom", nest(`{"api_key":"sk-stolen","pad":"` + pad + `"}`), 400},
		{"escaped-text-at-the-bottom", nest(`{"text":"caf\u00e9","pad":"` + pad + `"}`), 200},
		{"steering-at-depth-3", `{"model":"t/cheap","messages":[],"extra_body":{"a":{"b":{"api_base":"http://evil.test"}}}}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := e.post("/api/v1/chat/completions", key, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d %.300s, want %d", r.status, r.body, tt.status)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered in %v", d)
			}
			if tt.status == 400 && !strings.Contains(r.errMessage(t), "api_key") {
				t.Errorf("message %q", r.errMessage(t))
			}
			reqs := e.up.Requests()
			if tt.status == 200 && strings.Contains(string(reqs[len(reqs)-1].Body), "evil.test") {
				t.Error("a steering member reached the upstream")
			}
		})
	}
}
