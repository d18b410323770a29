package gateway_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestCharges runs one answer per row through keygate to the scripted
// upstream and checks what the key is charged, to the micro-dollar, in GET
// /api/v1/key and in GET /api/v1/generation.
func TestCharges(t *testing.T) {
	e := newEnv(t)
	u1020 := &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}
	tests := []struct {
		name     string
		path     string
		model    string // client-facing
		upstream string // what the upstream is asked for
		stream   bool
		extra    []any
		reply    upstreamtest.Reply
		want     keygate.Micros // -1: the fallback, more than 0, flagged CostEstimated
	}{
		{name: "cheap", model: "t/cheap", upstream: "cheap-v2", reply: upstreamtest.Reply{Usage: u1020}, want: 35},
		{name: "cheap-stream", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, Content: []string{"Hel", "lo"}}, want: 35},
		{name: "priced-by-entry-not-reported-model", model: "t/cheap", upstream: "cheap-v2", reply: upstreamtest.Reply{Usage: u1020, Model: "big-v9"}, want: 35},
		{name: "reasoning-inside-completion", model: "t/cheap", upstream: "cheap-v2", reply: upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 17, CompletionTokens: 482, ReasoningTokens: 448}}, want: 732},
		{name: "pattern", model: "t/whatever", upstream: "t/whatever", reply: upstreamtest.Reply{Usage: u1020}, want: 3},
		{name: "zero-usage-stands", model: "t/cheap", upstream: "cheap-v2", reply: upstreamtest.Reply{Usage: &upstreamtest.Usage{}}, want: 0},
		{name: "missing-usage-fallback", model: "t/cheap", upstream: "cheap-v2", reply: upstreamtest.Reply{Content: []string{"Hello there!"}}, want: -1},
		{name: "upstream-cost", model: "t/up", upstream: "t/up", reply: upstreamtest.Reply{UsageJSON: `{"prompt_tokens":10,"completion_tokens":20,"cost":0.00012}`}, want: 120},
		{name: "upstream-cost-stream", model: "t/up", upstream: "t/up", stream: true, reply: upstreamtest.Reply{UsageJSON: `{"prompt_tokens":10,"completion_tokens":20,"cost":0.00012}`}, want: 120},
		{name: "upstream-cost-exact-decimal", model: "t/up", upstream: "t/up", reply: upstreamtest.Reply{UsageJSON: `{"prompt_tokens":10,"completion_tokens":20,"cost":0.000249}`}, want: 249},
		{name: "byok-adds-inference-cost", model: "t/up", upstream: "t/up", reply: upstreamtest.Reply{UsageJSON: `{"prompt_tokens":10,"completion_tokens":20,"cost":0,"is_byok":true,"cost_details":{"upstream_inference_cost":0.0002}}`}, want: 200},
		{name: "not-byok-not-doubled", model: "t/up", upstream: "t/up", reply: upstreamtest.Reply{UsageJSON: `{"prompt_tokens":10,"completion_tokens":20,"cost":0.00012,"is_byok":false,"cost_details":{"upstream_inference_cost":0.00012}}`}, want: 120},
		{name: "upstream-cost-missing-fallback", model: "t/up", upstream: "t/up", reply: upstreamtest.Reply{Usage: u1020}, want: -1},
		{name: "stream-usage-on-finish-chunk", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, UsageOnLastChunk: true}, want: 35},
		{name: "stream-running-usage-not-summed", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, RepeatUsage: true, Content: []string{"a", "b", "c"}}, want: 35},
		{name: "stream-crlf", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, CRLF: true}, want: 35},
		{name: "stream-one-byte-writes", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, OneByte: true, Content: []string{"😀", "!"}}, want: 35},
		{name: "stream-split-data-lines", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, SplitData: true}, want: 35},
		{name: "stream-data-no-space", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, NoSpace: true}, want: 35},
		{name: "stream-openai-nulls", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, NullQuirks: true}, want: 35},
		{name: "stream-no-done", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, NoDone: true}, want: 35},
		{name: "stream-gzip", model: "t/cheap", upstream: "cheap-v2", stream: true, reply: upstreamtest.Reply{Usage: u1020, Gzip: true}, want: 35},
		{name: "gzip", model: "t/cheap", upstream: "cheap-v2", reply: upstreamtest.Reply{Usage: u1020, Gzip: true}, want: 35},
		{name: "client-asked-usage-openrouter-accounting", model: "t/cheap", upstream: "cheap-v2", stream: true, extra: []any{"usage", map[string]any{"include": true}}, reply: upstreamtest.Reply{Usage: u1020}, want: 35},
		{name: "client-asked-usage", model: "t/cheap", upstream: "cheap-v2", stream: true, extra: []any{"stream_options", map[string]any{"include_usage": true}}, reply: upstreamtest.Reply{Usage: u1020}, want: 35},
		{name: "completions", path: "/api/v1/completions", model: "t/cheap", upstream: "cheap-v2", extra: []any{"prompt", "Say hello"}, reply: upstreamtest.Reply{Usage: u1020}, want: 35},
		{name: "embeddings", path: "/api/v1/embeddings", model: "t/cheap", upstream: "cheap-v2", extra: []any{"input", "hello"}, reply: upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 8}}, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.reply.ID = "gen-" + tt.name
			e.script(tt.upstream, tt.reply)
			key := e.key(usd(10))
			path := tt.path
			if path == "" {
				path = "/api/v1/chat/completions"
			}
			body := chat(tt.model, tt.stream, tt.extra...)
			if path != "/api/v1/chat/completions" {
				delete(body, "messages")
			}
			r := e.post(path, key, body, "Accept-Encoding", "gzip, br")
			if r.status != 200 {
				t.Fatalf("POST %s = %d %s", path, r.status, r.body)
			}
			if ce := r.header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding = %q, want none: keygate relays plain bytes", ce)
			}
			if tt.stream {
				checkStream(t, r.body, tt.extra != nil)
			} else if !json.Valid(r.body) {
				t.Errorf("body %q is not JSON", r.body)
			}
			info := e.keyInfo(key)
			got := keygate.Micros(math.Round((info.Usage + info.BYOKUsage) * 1e6))
			id := "gen-" + tt.name
			if h := r.header.Get("X-Generation-Id"); !tt.stream && h != id {
				if path != "/api/v1/embeddings" {
					t.Errorf("X-Generation-Id = %q, want the upstream's id %q", h, id)
				}
				id = h
			}
			g, gr := e.generation(key, id)
			if g == nil {
				t.Fatalf("GET generation = %d %s", gr.status, gr.body)
			}
			if path != "/api/v1/embeddings" && (g.UpstreamID == nil || *g.UpstreamID != "gen-"+tt.name) {
				t.Errorf("upstream_id = %v, want the upstream's id %q", g.UpstreamID, "gen-"+tt.name)
			}
			switch {
			case tt.want >= 0 && got != tt.want:
				t.Errorf("charged %d µ$, want %d", got, tt.want)
			case tt.want < 0 && got <= 0:
				t.Errorf("charged %d µ$, want more than 0 (the fallback)", got)
			}
			if cost := keygate.Micros(g.TotalCost*1e6 + 0.5); cost != got {
				t.Errorf("generation total_cost = %v, key charged %d µ$", g.TotalCost, got)
			}
			sg, err := e.svc.Generation(t.Context(), e.user.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			if sg.CostEstimated != (tt.want < 0) {
				t.Errorf("CostEstimated = %v, want %v", sg.CostEstimated, tt.want < 0)
			}
			if g.Model != tt.model || *g.Streamed != tt.stream {
				t.Errorf("generation model %q streamed %v, want %q %v", g.Model, *g.Streamed, tt.model, tt.stream)
			}
		})
	}
}

// checkStream checks a relayed stream: canonical framing, JSON chunks
// without the null members the SDK rejects, no usage-only chunk unless the
// client asked for it, and exactly one [DONE], last.
func checkStream(t *testing.T, body []byte, askedUsage bool) {
	t.Helper()
	data := sseData(t, body)
	if len(data) == 0 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("stream %q does not end with [DONE]", body)
	}
	sawUsage := false
	for _, d := range data[:len(data)-1] {
		if d == "[DONE]" {
			t.Fatalf("stream %q has [DONE] before its end", body)
		}
		var c map[string]json.RawMessage
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			t.Fatalf("chunk %q is not JSON", d)
		}
		for _, k := range []string{"usage", "system_fingerprint"} {
			if string(c[k]) == "null" {
				t.Errorf("chunk %q keeps %q: null", d, k)
			}
		}
		if string(c["choices"]) == "[]" && c["usage"] != nil {
			sawUsage = true
		}
	}
	if sawUsage != askedUsage && !strings.Contains(string(body), `"finish_reason":"stop"},"usage"`) {
		t.Errorf("usage-only chunk forwarded = %v, client asked %v", sawUsage, askedUsage)
	}
}

// TestChargeOddAnswers: an upstream id the service refuses is replaced by
// one keygate makes, and negative token counts are taken as 0; either way
// the answer is delivered and charged.
func TestChargeOddAnswers(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		reply upstreamtest.Reply
		want  keygate.Micros
	}{
		{"id-with-spaces", upstreamtest.Reply{ID: "not a valid id", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}, 35},
		{"negative-tokens", upstreamtest.Reply{ID: "gen-negative", UsageJSON: `{"prompt_tokens":-10,"completion_tokens":20}`}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.script("cheap-v2", tt.reply)
			key := e.key(nil)
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false))
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			if got := e.spent(key); got != tt.want {
				t.Errorf("charged %d µ$, want %d", got, tt.want)
			}
			g, gr := e.generation(key, r.header.Get("X-Generation-Id"))
			if g == nil {
				t.Fatalf("GET generation %q = %d", r.header.Get("X-Generation-Id"), gr.status)
			}
			if valid := tt.reply.ID != "not a valid id"; (g.UpstreamID != nil) != valid {
				t.Errorf("upstream_id = %v, want it kept: %v", g.UpstreamID, valid)
			}
		})
	}
}
