package gateway_test

import (
	"bufio"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestReservationSize: a key with 1,000 µ$ left pays 35 µ$ for a
// 10/20 answer whatever max_tokens says: the hold (reserve_tokens without
// max_tokens, else max_tokens) is clamped to the room; a max_tokens that
// is no integer is a 400 naming it.
func TestReservationSize(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	tests := []struct {
		name   string
		extra  []any
		status int
		msg    string
	}{
		{"no-max-tokens", nil, 200, ""},
		{"huge-max-tokens", []any{"max_tokens", 999_999_999}, 200, ""},
		{"int64-max-tokens", []any{"max_completion_tokens", int64(1<<63 - 1)}, 200, ""},
		{"huge-n", []any{"max_tokens", 1 << 40, "n", 1 << 40}, 200, ""},
		{"max-tokens-beyond-int64", []any{"max_tokens", 1e30}, 400, "max_tokens"},
		{"max-tokens-fraction", []any{"max_tokens", 1.5}, 400, "max_tokens"},
		{"n-zero", []any{"n", 0}, 400, "n must be"},
		{"n-string", []any{"n", "2"}, 400, "n must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := e.key(usd(0.001))
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false, tt.extra...))
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.msg) {
					t.Errorf("message %q, want %q in it", msg, tt.msg)
				}
				return
			}
			info := e.keyInfo(key)
			if info.Usage != 0.000035 || info.LimitRemaining == nil || *info.LimitRemaining != 0.000965 {
				t.Errorf("usage %v, limit_remaining %v, want 0.000035 and 0.000965", info.Usage, info.LimitRemaining)
			}
		})
	}
}

// TestOvershootBound: concurrent requests on one key spend at
// most the limit plus one request's cost less 1 µ$ (docs/spending.md):
// big prompts count in each hold, and so does every one of n choices.
func TestOvershootBound(t *testing.T) {
	e := newEnv(t)
	prompt := strings.Repeat("word ", 48_000/5) // 48 kB: about 12,000 tokens
	tests := []struct {
		name  string
		body  map[string]any
		usage upstreamtest.Usage
		cost  keygate.Micros // of each answer
		limit keygate.Micros // room for 3 answers and some
	}{
		{"big-prompts", map[string]any{"model": "t/cheap", "max_tokens": 20, "messages": []map[string]string{{"role": "user", "content": prompt}}},
			upstreamtest.Usage{PromptTokens: 12_000, CompletionTokens: 20}, 6_030, 20_000},
		{"n-choices", chat("t/cheap", false, "max_tokens", 20, "n", 10),
			upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 200}, 305, 1_000},
		{"prompt-array", map[string]any{"model": "t/cheap", "max_tokens": 20, "prompt": []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}},
			upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 200}, 305, 1_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Answers come after 200 ms, so that all 20 are in flight together.
			e.script("cheap-v2", upstreamtest.Reply{Usage: &tt.usage, HeaderDelay: 200 * time.Millisecond})
			limit := tt.limit
			key := e.key(usd(float64(limit) / 1e6))
			var wg sync.WaitGroup
			statuses := make([]int, 20)
			for i := range statuses {
				path := "/api/v1/chat/completions"
				if tt.body["prompt"] != nil {
					path = "/api/v1/completions"
				}
				wg.Go(func() { statuses[i] = e.post(path, key, tt.body).status })
			}
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch s {
				case 200:
					ok++
				case 403:
				default:
					t.Errorf("status %d", s)
				}
			}
			spent := e.spent(key)
			if spent != keygate.Micros(ok)*tt.cost {
				t.Errorf("spent %d µ$ for %d answers of %d", spent, ok, tt.cost)
			}
			if spent > limit+tt.cost-1 || spent < limit {
				t.Errorf("spent %d µ$ on a %d µ$ limit: want within [limit, limit + %d]", spent, limit, tt.cost-1)
			}
		})
	}
}

// TestHoldsReturnedOnEveryExit: 50 concurrent streamed calls on
// one key, of which 20 are closed by their client mid-stream, 10 fail
// upstream with a 500 and 5 are refused by it with a 400, give back every
// hold: right after them the room is the limit less the recorded charges,
// to the micro-dollar, and a small call is admitted.
func TestHoldsReturnedOnEveryExit(t *testing.T) {
	e := newEnv(t)
	u := &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}
	hold := make(chan struct{})
	defer close(hold)
	e.script("t/ok", upstreamtest.Reply{Usage: u})
	e.script("t/gone", upstreamtest.Reply{Usage: u, Hold: hold, Content: []string{"produced", "never read"}})
	e.script("t/fail", upstreamtest.Reply{Status: 500})
	e.script("t/refuse", upstreamtest.Reply{Status: 400})
	const limit = 10_000
	key := e.key(usd(float64(limit) / 1e6))
	k, err := e.svc.Authenticate(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		model := []string{"t/gone", "t/gone", "t/fail", "t/ok", "t/refuse"}[i%5]
		if i%5 == 4 && i >= 25 {
			model = "t/ok"
		}
		wg.Go(func() {
			body := chat(model, true, "max_tokens", 500)
			if model == "t/gone" {
				resp := e.stream(key, body)
				readEvent(t, bufio.NewReader(resp.Body))
				resp.Body.Close()
				return
			}
			r := e.post("/api/v1/chat/completions", key, body)
			if want := map[string]int{"t/ok": 200, "t/fail": 502, "t/refuse": 400}[model]; r.status != want {
				t.Errorf("%s: status %d %s, want %d", model, r.status, r.body, want)
			}
		})
	}
	wg.Wait()
	waitFor(t, "the 20 cancelled upstream calls", func() bool { return len(e.up.Cancelled()) == 20 })
	room := func() keygate.Micros {
		r, err := e.svc.Reserve(t.Context(), k, limit)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		return r.Amount()
	}
	// The charges of the cancelled calls land once their handlers end.
	waitFor(t, "every hold returned", func() bool { return room() == limit-e.spent(key) })
	// 15 answers of 10/20 at 0.10/0.10 cost 3 µ$ each; each of the 20
	// streams cut after "produced" costs its fallback count, above 0.
	info := e.keyInfo(key)
	spent := e.spent(key)
	if spent < 15*3+20 || info.LimitRemaining == nil || keygate.Micros(*info.LimitRemaining*1e6+0.5) != limit-spent {
		t.Errorf("usage %d µ$, limit_remaining %v: want at least 65 µ$ and the limit less the usage", spent, info.LimitRemaining)
	}
	if r := e.post("/api/v1/chat/completions", key, chat("t/ok", false, "max_tokens", 20)); r.status != 200 {
		t.Errorf("a small call after them: %d %s", r.status, r.body)
	}
}
