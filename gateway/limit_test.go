package gateway_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestLimitRace sends 64 concurrent requests on a key with room for 10:
// every 200 is charged exactly once, the others are 403, and the spend
// passes the limit by less than one request's cost: each request reserves
// more than it costs, so only a clamped hold can be overspent, and one
// process has at most one in flight per key (docs/spending.md "The
// overshoot bound").
func TestLimitRace(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(usd(0.000350)) // 10 × 35 µ$
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 64 {
		wg.Go(func() {
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false, "max_tokens", 20))
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	spent := e.spent(key)
	if statuses[http.StatusOK]+statuses[http.StatusForbidden] != 64 {
		t.Fatalf("statuses %v, want only 200 and 403", statuses)
	}
	if got := int64(statuses[http.StatusOK]) * 35; int64(spent) != got {
		t.Errorf("spent %d µ$ for %d answers, want %d", spent, statuses[http.StatusOK], got)
	}
	if spent > 350+35 || statuses[http.StatusOK] < 1 {
		t.Errorf("spent %d µ$ on a 350 µ$ limit (%v)", spent, statuses)
	}
	t.Logf("statuses %v, spent %d µ$ of 350", statuses, spent)
}
