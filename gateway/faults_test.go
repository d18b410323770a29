package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestClientLeavesBeforeAnswer: a client that leaves before the
// upstream's answer arrives, streamed or not, cancels the upstream call
// and is not charged; its hold goes back at once.
func TestClientLeavesBeforeAnswer(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		stream bool
		delay  time.Duration // before the upstream's headers
		leave  time.Duration // the client's timeout
	}{
		{"stream-headers-late", true, 2 * time.Second, 500 * time.Millisecond},
		{"unstreamed-answer-late", false, 3 * time.Second, time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.script("cheap-v2", upstreamtest.Reply{HeaderDelay: tt.delay, Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
			const limit = 1_000
			key := e.key(usd(float64(limit) / 1e6))
			k, err := e.svc.Authenticate(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(chat("t/cheap", tt.stream))
			ctx, cancel := context.WithTimeout(t.Context(), tt.leave)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/api/v1/chat/completions", strings.NewReader(string(b)))
			req.Header.Set("Authorization", "Bearer "+key)
			if resp, err := e.srv.Client().Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("the client got %d before it left", resp.StatusCode)
			}
			waitFor(t, "the upstream call cancelled", func() bool { return len(e.up.Cancelled()) == i+1 })
			waitFor(t, "the hold returned", func() bool {
				r, err := e.svc.Reserve(t.Context(), k, limit)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Release()
				return r.Amount() == limit
			})
			if got := e.spent(key); got != 0 {
				t.Errorf("charged %d µ$ for an answer no one received", got)
			}
		})
	}
}

// TestStreamEndings: a client that closes the stream as
// soon as it reads [DONE] has a normal generation, found at once by the
// upstream's id, which every chunk carries.
func TestStreamEndings(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{ID: "gen-upstream-7", Content: []string{"Hel", "lo", "!"}, Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	resp := e.stream(key, chat("t/cheap", true))
	br := bufio.NewReader(resp.Body)
	for {
		ev := readEvent(t, br)
		if ev == "data: [DONE]" {
			break
		}
		var c struct {
			ID string `json:"id"`
		}
		if ev == "" || json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &c) != nil || c.ID != "gen-upstream-7" {
			t.Fatalf("event %q: want a chunk with the upstream's id", ev)
		}
	}
	resp.Body.Close() // at once
	g, r := e.generation(key, "gen-upstream-7")
	if g == nil {
		t.Fatalf("GET generation at once = %d %s", r.status, r.body)
	}
	if g.TotalCost != 0.000035 || g.Cancelled == nil || *g.Cancelled || g.FinishReason == nil || *g.FinishReason != "stop" || g.Streamed == nil || !*g.Streamed {
		t.Errorf("generation %s: want 35 µ$, not cancelled, stop, streamed", r.body)
	}
}

// TestOddUpstreamBodies: an answer that is only an error is
// a 502 and not charged; a body with leading whitespace is read; an empty
// id and role stay as sent (keygate records the answer under its own id);
// OpenAI's nulls are dropped where the SDK rejects them.
func TestOddUpstreamBodies(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		reply  upstreamtest.Reply
		status int
		cost   keygate.Micros
		check  func(t *testing.T, body []byte, genID string)
	}{
		{"error-only-200", upstreamtest.Reply{Body: `{"error":{"code":500,"message":"boom sk-up-0123456789abcdef"}}`}, 502, 0, nil},
		{"leading-whitespace", upstreamtest.Reply{Body: " \r\n\t" + `{"id":"gen-ws","object":"chat.completion","created":1,"model":"cheap-v2","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":20}}`}, 200, 35, nil},
		{"empty-id-and-role", upstreamtest.Reply{Body: `{"id":"","object":"chat.completion","created":1,"model":"cheap-v2","choices":[{"index":0,"message":{"role":"","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":20}}`}, 200, 35,
			func(t *testing.T, body []byte, genID string) {
				if !strings.Contains(string(body), `"id":""`) || !strings.Contains(string(body), `"role":""`) || !strings.HasPrefix(genID, "gen-") {
					t.Errorf("body %s, X-Generation-Id %q: want the empty id and role kept, keygate's id in the header", body, genID)
				}
			}},
		{"openai-nulls", upstreamtest.Reply{NullQuirks: true, Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}, 200, 35,
			func(t *testing.T, body []byte, _ string) {
				if strings.Contains(string(body), `"usage":null`) || !strings.Contains(string(body), `"system_fingerprint":null`) {
					t.Errorf("body %s: want usage:null dropped, system_fingerprint kept", body)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.script("cheap-v2", tt.reply)
			key := e.key(usd(1))
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false))
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if strings.Contains(string(r.body), upstreamKey) {
				t.Errorf("body %s quotes the upstream credential", r.body)
			}
			if got := e.spent(key); got != tt.cost {
				t.Errorf("charged %d µ$, want %d", got, tt.cost)
			}
			if tt.check != nil {
				tt.check(t, r.body, r.header.Get("X-Generation-Id"))
			}
		})
	}
}

// TestStreamFlushedWithCompression: a client that accepts gzip and
// br, from an upstream that gzips its stream, gets each chunk as it is
// made, in plain bytes, and pays 35 µ$.
func TestStreamFlushedWithCompression(t *testing.T) {
	e := newEnv(t)
	content := make([]string, 10)
	for i := range content {
		content[i] = "x"
	}
	e.script("cheap-v2", upstreamtest.Reply{Gzip: true, Content: content, ChunkDelay: 200 * time.Millisecond, Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	b, _ := json.Marshal(chat("t/cheap", true))
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/chat/completions", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept-Encoding", "gzip, br") // set by hand: Go's client leaves the body as sent
	start := time.Now()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ce := resp.Header.Get("Content-Encoding"); ce != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("Content-Encoding %q, Content-Type %q", ce, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	if first := readEvent(t, br); !strings.Contains(first, `"content":"x"`) {
		t.Fatalf("first event %q", first)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the first chunk came after %v; the upstream takes 1.8 s for all", d)
	}
	for ev := readEvent(t, br); ev != "data: [DONE]"; ev = readEvent(t, br) {
		if ev == "" {
			t.Fatal("the stream ended without [DONE]")
		}
	}
	if d := time.Since(start); d < 1700*time.Millisecond {
		t.Errorf("the whole stream took %v, want the upstream's 1.8 s", d)
	}
	if got := e.spent(key); got != 35 {
		t.Errorf("charged %d µ$, want 35", got)
	}
}

// TestFloatNumbers: an upstream that writes "created" as a float (a
// Python server's time.time()) and its token counts as 10.0, or its id,
// model and created as other types, has its answers read and charged like
// any other, streamed or not: a member the gateway does not need exactly
// never makes an answer unreadable, and so free or refused.
func TestFloatNumbers(t *testing.T) {
	e := newEnv(t)
	chunk := func(rest string) string {
		return `data: {"id":"up-f","object":"chat.completion.chunk","created":1733612345.123,"model":"cheap-v2",` + rest + "}\n\n"
	}
	tests := []struct {
		name   string
		stream bool
		body   string
	}{
		{"stream", true, chunk(`"choices":[{"index":0,"delta":{"content":"Hel"}}]`) +
			chunk(`"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]`) +
			chunk(`"choices":[],"usage":{"prompt_tokens":10.0,"completion_tokens":20.0}`) + "data: [DONE]\n\n"},
		{"body", false, `{"id":"up-f","object":"chat.completion","created":1733612345.123,"model":"cheap-v2","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10.0,"completion_tokens":20.0}}`},
		// Members the gateway does not meter, of another type than
		// OpenAI's: the answer is read without them.
		{"stream-odd-members", true, `data: {"id":7,"created":"now","model":["m"],"choices":[{"index":0,"delta":{"content":"Hel"}}]}` + "\n\n" +
			`data: {"id":7,"created":"now","model":["m"],"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}` + "\n\n" +
			`data: {"id":7,"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20}}` + "\n\n" + "data: [DONE]\n\n"},
		{"body-odd-members", false, `{"id":7,"created":"now","model":["m"],"choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":20}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.script("cheap-v2", upstreamtest.Reply{Body: tt.body})
			key := e.key(usd(1))
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", tt.stream))
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			if got := e.spent(key); got != 35 {
				t.Errorf("charged %d µ$, want 35 (10 prompt and 20 completion tokens)", got)
			}
		})
	}
}
