package gateway_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestReusedUpstreamID: an upstream that answers every request with the
// same id (small local servers draw ids from a small range) gets every
// answer charged, each under an id of keygate's, which its body, its
// chunks and X-Generation-Id carry; the upstream's id is each one's
// upstream_id, and looking it up finds nothing.
func TestReusedUpstreamID(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{ID: "chatcmpl-1", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	seen := map[string]bool{}
	for i, stream := range []bool{false, false, true, true} {
		r := e.post("/api/v1/chat/completions", key, chat("t/cheap", stream))
		if r.status != 200 {
			t.Fatalf("answer %d: status %d %s", i, r.status, r.body)
		}
		if got, want := e.spent(key), keygate.Micros(35*(i+1)); got != want {
			t.Errorf("answer %d: charged %d µ$ in all, want %d", i, got, want)
		}
		id := r.header.Get("X-Generation-Id")
		if seen[id] || !generationIDForm.MatchString(id) || !strings.Contains(string(r.body), `"id":"`+id+`"`) {
			t.Errorf("answer %d: X-Generation-Id %q (body %s): want a new id of keygate's, in the body too", i, id, r.body)
		}
		seen[id] = true
		if g, gr := e.generation(key, id); g == nil || g.TotalCost*1e6 < 34.9 || g.TotalCost*1e6 > 35.1 || g.UpstreamID == nil || *g.UpstreamID != "chatcmpl-1" {
			t.Errorf("GET generation %q = %d %s, want 35 µ$ and upstream_id chatcmpl-1", id, gr.status, gr.body)
		}
	}
	if _, gr := e.generation(key, "chatcmpl-1"); gr.status != 404 {
		t.Errorf("GET generation chatcmpl-1 = %d, want 404: no generation has the upstream's id", gr.status)
	}
}

// TestReusedUpstreamIDConcurrent: concurrent answers with one upstream id
// are each charged once.
func TestReusedUpstreamIDConcurrent(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{ID: "chatcmpl-2", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", i%2 == 0)); r.status != 200 {
				t.Errorf("status %d %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	if got := e.spent(key); got != 350 {
		t.Errorf("charged %d µ$ for 10 answers, want 350", got)
	}
}
