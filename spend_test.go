package keygate_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// limitUSD returns a limit of m micro-dollars, in USD, as a request gives it.
func limitUSD(m keygate.Micros) *float64 {
	v := m.USD()
	return &v
}

// TestReserveRaceSQLite: 64 concurrent requests against a key with room for
// 10 on one process. When each costs what it reserved, exactly 10 are
// admitted and the key spends its limit to the micro-dollar; when requests
// reserve more than the room left, the one admitted with a clamped hold
// may overshoot by its cost beyond that hold, and no more (the bound of
// docs/spending.md).
func TestReserveRaceSQLite(t *testing.T) {
	tests := []struct {
		name           string
		want, cost     keygate.Micros
		admitted       int
		spent          keygate.Micros
		limit          keygate.Micros
		refusedMessage string
	}{
		{"exact", 100, 100, 10, 1000, 1000, "Key limit exceeded (total limit)"},
		// 3 × 300 held, then the last 100: one clamped request in
		// flight, charged 300 for a hold of 100.
		{"clamped", 300, 300, 4, 1200, 1000, "Key limit exceeded (total limit)"},
		// A cost below the hold gives the rest back: 20 × 50.
		{"cheaper-than-held", 100, 50, 20, 1000, 1000, "Key limit exceeded (total limit)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(tt.limit)})
			admitted, refused := raceUntilDone(t, []*keygate.Service{f.svc}, k, tt.want, tt.cost)
			info, err := f.svc.KeyInfo(f.ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if admitted != tt.admitted || info.Usage.Total != tt.spent {
				t.Errorf("admitted %d, spent %d µ$; want %d, %d µ$", admitted, info.Usage.Total, tt.admitted, tt.spent)
			}
			if len(refused) != 1 || refused[tt.refusedMessage] == 0 {
				t.Errorf("refusals = %v, want only %q", refused, tt.refusedMessage)
			}
			if info.Remaining == nil || *info.Remaining != max(tt.limit-tt.spent, 0) {
				t.Errorf("limit_remaining = %v, want %d", info.Remaining, max(tt.limit-tt.spent, 0))
			}
		})
	}
}

// raceUntilDone runs waves of 64 concurrent requests until one admits
// none, so that requests refused while others held the room find it again
// once those settle for less.
func raceUntilDone(t *testing.T, svcs []*keygate.Service, k *keygate.APIKey, want, cost keygate.Micros) (int, map[string]int) {
	t.Helper()
	total := 0
	refused := map[string]int{}
	for wave := range 20 {
		admitted, r := raceWave(t, svcs, k, wave, want, cost)
		total += admitted
		for m, n := range r {
			refused[m] += n
		}
		if admitted == 0 {
			break
		}
	}
	return total, refused
}

func raceWave(t *testing.T, svcs []*keygate.Service, k *keygate.APIKey, wave int, want, cost keygate.Micros) (int, map[string]int) {
	t.Helper()
	var admitted atomic.Int32
	var mu sync.Mutex
	refused := map[string]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			svc := svcs[i%len(svcs)]
			<-start
			r, err := svc.Reserve(context.Background(), k, want)
			if err != nil {
				mu.Lock()
				refused[keygate.ErrorMessage(err)]++
				mu.Unlock()
				return
			}
			admitted.Add(1)
			g := &keygate.Generation{ID: fmt.Sprintf("gen-%s-%d-%d", k.Hash[:8], wave, i), Model: "t/cheap", Cost: cost}
			if err := svc.Settle(context.Background(), r, g); err != nil {
				t.Errorf("Settle #%d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(admitted.Load()), refused
}

// TestWritesPerRequestSQLite: settlements of concurrent requests share
// transactions on SQLite: with the charge journal, one per batch of 50 ms
// whatever the number of requests; without it, the group commit's.
func TestWritesPerRequestSQLite(t *testing.T) {
	for _, c := range []struct {
		name    string
		journal bool
		most    float64 // write transactions per request
	}{{"journal", true, 0.02}, {"commit", false, 0.5}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureStore(t, []sqlite.Option{sqlite.WithChargeJournal(c.journal)})
			_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(100_000_000), LimitReset: "monthly"})
			const workers, each = 64, 50
			w0 := f.store.WriteCount()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						r, err := f.svc.Reserve(f.ctx, k, 2_000)
						if err != nil {
							t.Errorf("Reserve: %v", err)
							return
						}
						if err := f.svc.Settle(f.ctx, r, &keygate.Generation{ID: fmt.Sprintf("gen-%d-%d", w, i), Cost: 1_500}); err != nil {
							t.Errorf("Settle: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			n := workers * each
			if got := f.remaining(k); got != 100_000_000-keygate.Micros(n*1_500) {
				t.Errorf("limit_remaining %d, want %d", got, 100_000_000-n*1_500)
			}
			if err := f.store.Flush(f.ctx); err != nil {
				t.Fatal(err)
			}
			writes := f.store.WriteCount() - w0
			t.Logf("%d requests at 64 workers: %d write transactions, %.4f per request", n, writes, float64(writes)/float64(n))
			if float64(writes)/float64(n) >= c.most {
				t.Errorf("%d writes for %d requests, want fewer than %.2f per request", writes, n, c.most)
			}
		})
	}
}
