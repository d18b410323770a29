package gateway_test

import (
	"regexp"
	"sync"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestReusedUpstreamID: an upstream that answers every request with the
// same id (small local servers draw ids from a small range) gets every
// answer charged. The first answer is recorded under the upstream's id;
// each later one under an id keygate makes, sent in X-Generation-Id.
// Looking up the reused id finds the first answer, and only for its user.
func TestReusedUpstreamID(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{ID: "chatcmpl-1", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(1))
	tests := []struct {
		name   string
		stream bool
	}{
		{"first", false},
		{"again", false},
		{"streamed", true},
		{"streamed-again", true},
	}
	var ids []string
	for i, tt := range tests {
		r := e.post("/api/v1/chat/completions", key, chat("t/cheap", tt.stream))
		if r.status != 200 {
			t.Fatalf("%s: status %d %s", tt.name, r.status, r.body)
		}
		if got, want := e.spent(key), keygate.Micros(35*(i+1)); got != want {
			t.Errorf("%s: charged %d µ$ in all, want %d", tt.name, got, want)
		}
		if !tt.stream {
			ids = append(ids, r.header.Get("X-Generation-Id"))
		}
	}
	if ids[0] != "chatcmpl-1" || !regexp.MustCompile(`^gen-[0-9]+-[0-9a-f]{32}$`).MatchString(ids[1]) {
		t.Errorf("X-Generation-Id = %q: want the upstream's id first, then one of keygate's (gen-<unix>-<32 hex>)", ids)
	}
	for _, id := range ids {
		// Either way the upstream's id is the generation's upstream_id.
		if g, r := e.generation(key, id); g == nil || g.TotalCost*1e6 < 34.9 || g.TotalCost*1e6 > 35.1 || g.UpstreamID == nil || *g.UpstreamID != "chatcmpl-1" {
			t.Errorf("GET generation %q = %d %s, want 35 µ$ and upstream_id chatcmpl-1", id, r.status, r.body)
		}
	}

	// Another user's answer with that id is charged to them, and the id
	// still names alice's generation only.
	bob, err := e.svc.CreateUser(t.Context(), "bob@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	bobKey, _, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: bob.ID, Name: "b", LimitUSD: usd(1)})
	if err != nil {
		t.Fatal(err)
	}
	r := e.post("/api/v1/chat/completions", bobKey, chat("t/cheap", false))
	if r.status != 200 || e.spent(bobKey) != 35 {
		t.Fatalf("bob: status %d, charged %d µ$, want 200 and 35", r.status, e.spent(bobKey))
	}
	if _, gr := e.generation(bobKey, "chatcmpl-1"); gr.status != 404 {
		t.Errorf("bob's GET generation chatcmpl-1 = %d, want 404: the id is alice's", gr.status)
	}
	if g, _ := e.generation(bobKey, r.header.Get("X-Generation-Id")); g == nil {
		t.Errorf("bob's own generation %q not found", r.header.Get("X-Generation-Id"))
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
