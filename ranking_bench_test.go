package keygate_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// BenchmarkAppRankings answers GET /api/v1/datasets/app-rankings for the
// default 30-day window over a usage history of 1,000 and of 10,000,000
// events (30 days × 10 apps × 3 models), on SQLite. Rankings read the
// daily rollups, whose rows are one per day, app and model however many
// events they sum: both histories leave the same 900 rows, so the answer
// costs the same. The history is written as the store writes it, through
// RecordGeneration, one charge per rollup row carrying the sums of that
// row's share of the events (writing ten million generations one by one
// would take hours and change nothing that rankings read).
func BenchmarkAppRankings(b *testing.B) {
	const days, apps, models = 30, 10, 3
	for _, events := range []int{1_000, 10_000_000} {
		for _, sort := range []string{"popular", "trending"} {
			b.Run(fmt.Sprintf("events=%d/sort=%s", events, sort), func(b *testing.B) {
				f := newFixture(b)
				seedRollups(b, f, events, days, apps, models)
				q := keygate.RankingsQuery{Sort: sort}
				r, err := f.svc.AppRankings(f.ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				var total int64
				for _, a := range r.Apps {
					total += a.Requests
				}
				if sort == "popular" && total != int64(events) {
					b.Fatalf("the ranked apps hold %d requests, want %d", total, events)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := f.svc.AppRankings(f.ctx, q); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// seedRollups spreads events evenly over the rows of days (ending
// yesterday, 2026-03-03), apps and models, each row written as one charge
// whose rollup sums its share.
func seedRollups(b *testing.B, f *fixture, events, days, apps, models int) {
	b.Helper()
	ids := make([]int64, apps)
	for i := range ids {
		id, err := f.svc.AttributeApp(f.ctx, &keygate.APIKey{}, keygate.Attribution{Referer: fmt.Sprintf("https://app-%d.example", i)})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = *id
	}
	last := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	rows := days * apps * models
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for n := range next {
				share := int64(events / rows)
				if n < events%rows {
					share++
				}
				day := last.AddDate(0, 0, -(n / (apps * models)))
				g := &keygate.Generation{ID: fmt.Sprintf("seed-%d", n), KeyHash: "bench", AppID: &ids[n%apps],
					Model: fmt.Sprintf("m/%d", n/apps%models), CreatedAt: day.Add(time.Hour)}
				c := &keygate.Charge{Generation: g, AppDay: &keygate.AppDay{AppID: ids[n%apps], Day: day, Model: g.Model,
					Requests: share, PromptTokens: 100 * share, CompletionTokens: 50 * share}}
				if _, _, err := f.store.RecordGeneration(f.ctx, c); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for n := range rows {
		next <- n
	}
	close(next)
	wg.Wait()
}
