package keygate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/postgres/pgtest"
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

// replicas opens n Services, each on its own connection pool to one
// PostgreSQL schema, as n replicas of keygate would be.
func replicas(t *testing.T, n int) ([]*keygate.Service, []*postgres.DB) {
	t.Helper()
	u, _ := pgtest.NewSchema(t)
	svcs := make([]*keygate.Service, n)
	dbs := make([]*postgres.DB, n)
	for i := range n {
		dbs[i] = pgtest.OpenURL(t, u)
		svcs[i] = keygate.NewService(dbs[i], keygate.DefaultConfig(),
			keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	}
	return svcs, dbs
}

// pgKey creates a user and a key with limit on svc.
func pgKey(t *testing.T, svc *keygate.Service, limit keygate.Micros, reset string) *keygate.APIKey {
	t.Helper()
	u, err := svc.CreateUser(t.Context(), fmt.Sprintf("u%d@example.com", time.Now().UnixNano()), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	_, k, err := svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: "k", LimitUSD: limitUSD(limit), LimitReset: reset})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writes returns the spending writes of dbs so far.
func writes(dbs []*postgres.DB) int64 {
	var n int64
	for _, db := range dbs {
		n += db.WriteCount()
	}
	return n
}

// TestReserveRaceReplicas: the same race with three replicas on one
// PostgreSQL, admitting from budget leases. With costs equal to holds the
// limit is never passed; the overshoot of clamped holds is at most one
// request per replica.
func TestReserveRaceReplicas(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	tests := []struct {
		name       string
		want, cost keygate.Micros
		limit      keygate.Micros
		maxSpent   keygate.Micros
	}{
		{"exact", 100, 100, 1000, 1000},
		{"clamped", 300, 300, 1000, 1000 + 3*200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := pgKey(t, svcs[0], tt.limit, "")
			w0 := writes(dbs)
			admitted, refused := raceUntilDone(t, svcs, k, tt.want, tt.cost)
			info, err := svcs[1].KeyInfo(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			spent := info.Usage.Total
			if spent != keygate.Micros(admitted)*tt.cost {
				t.Errorf("spent %d µ$ for %d admitted at %d", spent, admitted, tt.cost)
			}
			if spent > tt.maxSpent {
				t.Errorf("spent %d µ$, want at most %d", spent, tt.maxSpent)
			}
			t.Logf("limit %d: admitted %d, spent %d µ$ (overshoot %d), refused %v, %d writes",
				tt.limit, admitted, spent, max(spent-tt.limit, 0), refused, writes(dbs)-w0)
		})
	}
}

// TestLeaseWritesPerRequest: under steady load on three replicas, a key
// whose limit is large against its requests is leased a few times, and
// settlements are committed in batches: the database sees far fewer
// writes than requests.
func TestLeaseWritesPerRequest(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	k := pgKey(t, svcs[0], 100_000_000, "daily")
	const workers, each = 64, 50
	w0 := writes(dbs)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			svc := svcs[w%len(svcs)]
			for i := range each {
				r, err := svc.Reserve(t.Context(), k, 2_000)
				if err != nil {
					t.Errorf("Reserve: %v", err)
					return
				}
				if err := svc.Settle(t.Context(), r, &keygate.Generation{ID: fmt.Sprintf("gen-%d-%d", w, i), Cost: 1_500}); err != nil {
					t.Errorf("Settle: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	n := workers * each
	perRequest := float64(writes(dbs)-w0) / float64(n)
	info, err := svcs[2].KeyInfo(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	if want := keygate.Micros(n * 1_500); info.Usage.Daily != want {
		t.Errorf("daily usage %d µ$, want %d", info.Usage.Daily, want)
	}
	t.Logf("%d requests on 3 replicas: %d writes, %.4f per request", n, writes(dbs)-w0, perRequest)
	if perRequest >= 0.2 {
		t.Errorf("%.3f writes per request, want < 0.2", perRequest)
	}
}
