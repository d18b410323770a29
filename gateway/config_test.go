package gateway

import (
	"strings"
	"testing"
	"time"
)

const issueExample = `
upstreams:
  local:
    base_url: http://127.0.0.1:8000/v1
    api_key_env: LOCAL_API_KEY
    timeout: 120s
models:
  - name: acme/small
    upstream: local
    upstream_model: small-v2
    pricing: {prompt: 0.50, completion: 1.50}
  - name: "meta-llama/*"
    upstream: local
    pricing: {prompt: 0.10, completion: 0.10}
  - name: or/up
    upstream: local
    pricing: upstream
`

func env(k string) string {
	if k == "LOCAL_API_KEY" {
		return "sk-up-secret"
	}
	return ""
}

func TestParseConfigIssueExample(t *testing.T) {
	c, err := ParseConfig([]byte(issueExample), env)
	if err != nil {
		t.Fatal(err)
	}
	r := newRoutes(c)
	tests := []struct {
		name, wantEntry, wantUpstream string
	}{
		{"acme/small", "acme/small", "small-v2"},
		{"meta-llama/llama-3-8b", "meta-llama/*", "meta-llama/llama-3-8b"},
		{"or/up", "or/up", "or/up"},
		{"meta-llama/", "", ""},
		{"acme/other", "", ""},
	}
	for _, tt := range tests {
		m := r.model(tt.name)
		if tt.wantEntry == "" {
			if m != nil {
				t.Errorf("model(%q) = %q, want none", tt.name, m.Name)
			}
			continue
		}
		if m == nil || m.Name != tt.wantEntry || m.upstreamName(tt.name) != tt.wantUpstream {
			t.Errorf("model(%q) = %+v, want entry %q sending %q", tt.name, m, tt.wantEntry, tt.wantUpstream)
		}
	}
	small := r.model("acme/small")
	if small.Pricing.Prompt != 500_000 || small.Pricing.Completion != 1_500_000 || small.ReserveTokens != DefaultReserveTokens {
		t.Errorf("acme/small = %+v", small)
	}
	if u := small.upstream; u.apiKey != "sk-up-secret" || u.Timeout != 120*time.Second || u.BaseURL != "http://127.0.0.1:8000/v1" {
		t.Errorf("upstream = %+v", u)
	}
	if !r.model("or/up").Pricing.Upstream {
		t.Error("or/up: pricing upstream not read")
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every one must be in the error
	}{
		{"unknown-top-level", "upstreams: {}\nmodel: []\n", []string{"field model not found"}},
		{"unknown-model-field", "upstreams: {u: {base_url: http://x}}\nmodels: [{name: a, upstream: u, pricing: upstream, prize: 1}]\n", []string{"field prize not found"}},
		{"unknown-pricing-field", "upstreams: {u: {base_url: http://x}}\nmodels: [{name: a, upstream: u, pricing: {prompt: 1, completion: 1, cached: 1}}]\n", []string{`unknown field "cached"`}},
		{"every-problem-at-once", `
upstreams:
  u: {base_url: "ftp://x", api_key_env: MISSING, timeout: -1s}
models:
  - {name: a, upstream: nope, pricing: upstream}
  - {name: a, upstream: u, pricing: upstream}
  - {name: "b*c*", upstream: u, pricing: upstream, reserve_tokens: -1}
`, []string{"base_url", "MISSING", "timeout", `upstream "nope"`, "listed twice", "pattern", "reserve_tokens"}},
		{"price-too-fine", "upstreams: {u: {base_url: http://x}}\nmodels: [{name: a, upstream: u, pricing: {prompt: 0.0000001, completion: 1}}]\n", []string{"pricing.prompt", "6 decimal places"}},
		{"price-missing-half", "upstreams: {u: {base_url: http://x}}\nmodels: [{name: a, upstream: u, pricing: {prompt: 1}}]\n", []string{"both prompt and completion"}},
		{"pricing-word", "upstreams: {u: {base_url: http://x}}\nmodels: [{name: a, upstream: u, pricing: free}]\n", []string{`"free"`}},
		{"credential-in-url", "upstreams: {u: {base_url: 'https://me:sk-secret@x.test/v1'}}\nmodels: [{name: a, upstream: u, pricing: upstream}]\n", []string{"api_key_env"}},
		{"no-models", "upstreams: {}\n", []string{"at least one model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), env)
			if err == nil {
				t.Fatal("ParseConfig = nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseConfig error = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}
