package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestUpstreamErrors checks how upstream failures reach the client: the
// caller's own errors keep their status without credentials, the
// upstream refusing keygate's credential is a 502 with keygate's message,
// an unreachable upstream 502 and a silent one 504, none charged.
func TestUpstreamErrors(t *testing.T) {
	e := newEnv(t)
	quoting := `{"error":{"message":"bad request for key ` + upstreamKey + ` and Bearer abc.def sk-or-v1-aaaaaaaaaaaaaaaaaaaaaaaa"}}`
	tests := []struct {
		name       string
		model      string
		stream     bool
		reply      upstreamtest.Reply
		wantStatus int
		wantMsg    string
		wantHeader [2]string
	}{
		{"400-passes-redacted", "t/cheap", false, upstreamtest.Reply{Status: 400, Body: quoting}, 400, "Upstream: bad request for key", [2]string{}},
		{"404", "t/cheap", false, upstreamtest.Reply{Status: 404, Body: `{"error":{"message":"no such model"}}`}, 404, "no such model", [2]string{}},
		{"422", "t/cheap", false, upstreamtest.Reply{Status: 422, Body: quoting}, 422, "Upstream:", [2]string{}},
		{"429-retry-after", "t/cheap", false, upstreamtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "7"}}, 429, "scripted failure", [2]string{"Retry-After", "7"}},
		{"401-is-502", "t/cheap", false, upstreamtest.Reply{Status: 401, Body: quoting}, 502, "refused keygate's credentials", [2]string{}},
		{"402-is-502", "t/cheap", false, upstreamtest.Reply{Status: 402, Body: quoting}, 502, "refused keygate's credentials", [2]string{}},
		{"403-is-502", "t/cheap", false, upstreamtest.Reply{Status: 403, Body: quoting}, 502, "refused keygate's credentials", [2]string{}},
		{"500-is-502", "t/cheap", false, upstreamtest.Reply{Status: 500, Body: quoting}, 502, "failed (status 500)", [2]string{}},
		{"stream-error-before-first-byte", "t/cheap", true, upstreamtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3"}}, 429, "Upstream:", [2]string{"Retry-After", "3"}},
		{"stream-error-event-first", "t/cheap", true, upstreamtest.Reply{Body: "data: {\"error\":{\"code\":null,\"message\":\"overloaded\",\"metadata\":{\"status\":503}}}\n\n"}, 503, "Upstream: overloaded", [2]string{}},
		{"stream-cut-before-first-event", "t/cheap", true, upstreamtest.Reply{Body: "data: {\"id\":"}, 502, "ended the stream early", [2]string{}},
		{"timeout-504", "t/slow", false, upstreamtest.Reply{HeaderDelay: 2 * time.Second}, 504, "timed out", [2]string{}},
		{"unreachable-502", "t/down", false, upstreamtest.Reply{}, 502, "cannot be reached", [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := map[string]string{"t/cheap": "cheap-v2"}[tt.model]
			if upstream == "" {
				upstream = tt.model
			}
			e.script(upstream, tt.reply)
			key := e.key(usd(1))
			r := e.post("/api/v1/chat/completions", key, chat(tt.model, tt.stream))
			if r.status != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			msg := r.errMessage(t)
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q, want %q in it", msg, tt.wantMsg)
			}
			for _, leak := range []string{upstreamKey, "abc.def", "sk-or-v1-aaaa", "127.0.0.1", "http://"} {
				if strings.Contains(string(r.body), leak) {
					t.Errorf("body %s leaks %q", r.body, leak)
				}
			}
			if h := tt.wantHeader; h[0] != "" && r.header.Get(h[0]) != h[1] {
				t.Errorf("%s = %q, want %q", h[0], r.header.Get(h[0]), h[1])
			}
			if got := e.spent(key); got != 0 {
				t.Errorf("charged %d µ$ for a failed call", got)
			}
		})
	}
	if strings.Contains(e.logs.String(), upstreamKey) {
		t.Error("the upstream credential is in the logs")
	}
}

// TestStreamFirstChunkEarly checks that the first chunk reaches the client
// while the upstream still holds the rest, then the charge.
func TestStreamFirstChunkEarly(t *testing.T) {
	e := newEnv(t)
	hold := make(chan struct{})
	e.script("cheap-v2", upstreamtest.Reply{ID: "gen-held", Hold: hold, Content: []string{"first", " second"}, Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	resp := e.stream(key, chat("t/cheap", true))
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first := readEvent(t, br)
	if !strings.Contains(first, `"content":"first"`) {
		t.Fatalf("first event %q", first)
	}
	close(hold) // only now does the upstream send the rest
	var rest []string
	for ev := readEvent(t, br); ev != ""; ev = readEvent(t, br) {
		rest = append(rest, ev)
	}
	if len(rest) == 0 || rest[len(rest)-1] != "data: [DONE]" {
		t.Fatalf("rest of stream %q", rest)
	}
	if got := e.spent(key); got != 35 {
		t.Errorf("charged %d µ$, want 35", got)
	}
	info := e.keyInfo(key)
	if info.UsageDaily != 0.000035 || info.UsageWeekly != 0.000035 || info.UsageMonthly != 0.000035 || info.LimitRemaining == nil || *info.LimitRemaining != 0.999965 {
		t.Errorf("GET /api/v1/key = usage %v daily %v weekly %v monthly %v remaining %v", info.Usage, info.UsageDaily, info.UsageWeekly, info.UsageMonthly, info.LimitRemaining)
	}
}

// TestStreamBroken checks streams the upstream does not finish: an error
// event or a cut mid-way end with one error event and no [DONE], charged
// for what was produced; a stream silent past the timeout likewise.
func TestStreamBroken(t *testing.T) {
	e := newEnv(t)
	five := []string{"a", "b", "c", "d", "e", "f"}
	tests := []struct {
		name  string
		model string
		reply upstreamtest.Reply
	}{
		{"error-event", "t/cheap", upstreamtest.Reply{Content: five, ErrorAfter: 5}},
		{"cut", "t/cheap", upstreamtest.Reply{Content: five, CutAfter: 5}},
		{"idle-timeout", "t/slow", upstreamtest.Reply{Content: five, ChunkDelay: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := map[string]string{"t/cheap": "cheap-v2", "t/slow": "t/slow"}[tt.model]
			tt.reply.ID = "gen-broken-" + tt.name
			e.script(up, tt.reply)
			key := e.key(usd(1))
			r := e.post("/api/v1/chat/completions", key, chat(tt.model, true))
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			data := sseData(t, r.body)
			last := data[len(data)-1]
			var ev struct {
				Error *struct {
					Code    *int   `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(last), &ev); err != nil || ev.Error == nil || ev.Error.Message == "" {
				t.Fatalf("last event %q is not an error event (stream %q)", last, r.body)
			}
			if strings.Contains(string(r.body), "[DONE]") || strings.Contains(last, `"code":null`) {
				t.Errorf("stream %q: [DONE] or a null code", r.body)
			}
			if got := e.spent(key); got <= 0 {
				t.Errorf("charged %d µ$ for a stream that produced tokens", got)
			}
			g, err := e.svc.Generation(t.Context(), e.user.ID, tt.reply.ID)
			if err != nil || g.FinishReason != "error" || !g.CostEstimated {
				t.Errorf("generation %+v, %v: want finish error, estimated", g, err)
			}
		})
	}
}

// TestClientDisconnect: keygate cancels the upstream when the client goes
// away mid-stream, and charges what was streamed so far.
func TestClientDisconnect(t *testing.T) {
	e := newEnv(t)
	hold := make(chan struct{})
	defer close(hold)
	e.script("cheap-v2", upstreamtest.Reply{ID: "gen-gone", Hold: hold, Content: []string{"some text already produced", "more"}})
	key := e.key(usd(1))
	resp := e.stream(key, chat("t/cheap", true))
	br := bufio.NewReader(resp.Body)
	readEvent(t, br)
	resp.Body.Close()
	waitFor(t, "the upstream call cancelled", func() bool { return len(e.up.Cancelled()) == 1 })
	waitFor(t, "the charge", func() bool { return e.spent(key) > 0 })
	g, err := e.svc.Generation(t.Context(), e.user.ID, "gen-gone")
	if err != nil || !g.Cancelled || !g.CostEstimated || g.CompletionTokens != 7 {
		t.Errorf("generation %+v, %v: want cancelled, estimated, 7 completion tokens (26 bytes / 4, up)", g, err)
	}
}

// stream starts a streamed request and returns the open response.
func (e *env) stream(key string, body any) *http.Response {
	e.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", e.srv.URL+"/api/v1/chat/completions", strings.NewReader(string(j)))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		e.t.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

// readEvent reads one event's lines joined by "\n"; "" at the end.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var lines []string
	for {
		l, err := br.ReadString('\n')
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			if err != nil || len(lines) > 0 {
				return strings.Join(lines, "\n")
			}
			continue
		}
		lines = append(lines, l)
	}
}

// TestReservationsReleased: failed calls give their holds back at once, so
// a key with room for one more call is admitted right after them.
func TestReservationsReleased(t *testing.T) {
	e := newEnv(t)
	key := e.key(usd(0.000050)) // room for one 35 µ$ call held at ~43 µ$
	e.script("cheap-v2", upstreamtest.Reply{Status: 500})
	for range 5 {
		if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false, "max_tokens", 20)); r.status != 502 {
			t.Fatalf("failing upstream: %d %s", r.status, r.body)
		}
	}
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false, "max_tokens", 20)); r.status != 200 {
		t.Fatalf("after the failures: %d %s", r.status, r.body)
	}
	if got := e.spent(key); got != 35 {
		t.Errorf("charged %d µ$, want 35", got)
	}
}

// TestTimeoutIsIdleGap: the upstream timeout bounds each gap between
// events, not the stream's length: a stream twice as long as the timeout,
// with short gaps, completes.
func TestTimeoutIsIdleGap(t *testing.T) {
	e := newEnv(t)
	e.script("t/slow", upstreamtest.Reply{ // timeout 300ms
		Content:    []string{"a", "b", "c", "d", "e", "f"},
		ChunkDelay: 100 * time.Millisecond,
		Usage:      &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20},
	})
	key := e.key(nil)
	start := time.Now()
	r := e.post("/api/v1/chat/completions", key, chat("t/slow", true))
	if r.status != 200 || !strings.HasSuffix(string(r.body), "data: [DONE]\n\n") {
		t.Fatalf("status %d, stream %q", r.status, r.body)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("the stream took %v; the test wants it longer than the 300ms timeout", d)
	}
	if got := e.spent(key); got != 35 {
		t.Errorf("charged %d µ$, want 35", got)
	}
}
