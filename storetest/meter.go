package storetest

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// Meter charges s the way keygate's metering does, for the tests of each
// store that recompute the rollups from the stored generations in SQL:
// through a Service, 8 goroutines settle 200 requests of two apps and
// three models in the last second before a UTC midnight and the first
// after it, and usage for the day before is then reported late through
// the usage API, twice (the second report charges nothing). It returns
// how many generations were charged.
func Meter(t *testing.T, s keygate.Store) int {
	t.Helper()
	var now atomic.Pointer[time.Time]
	midnight := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)
	set := func(tm time.Time) { now.Store(&tm) }
	set(midnight.Add(-time.Second))
	svc := keygate.NewService(s, keygate.DefaultConfig(),
		keygate.WithClock(func() time.Time { return *now.Load() }), keygate.WithLogger(slog.New(slog.DiscardHandler)))
	u, err := svc.CreateUser(t.Context(), "meter-"+newID()[:8]+"@example.com", "correct horse battery staple")
	must(t, "CreateUser", err)
	secret, k, err := svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: "meter"})
	must(t, "CreateKey", err)
	apps := []keygate.Attribution{{Referer: "https://one.example"}, {Referer: "https://two.example"}}
	charged := 0
	for _, at := range []time.Time{midnight.Add(-time.Second), midnight} {
		set(at)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 25 {
					n := w*25 + i
					appID, err := svc.AttributeApp(t.Context(), k, apps[n%2])
					if err != nil {
						t.Error(err)
						return
					}
					r, err := svc.Reserve(t.Context(), k, 10)
					if err != nil {
						t.Error(err)
						return
					}
					g := &keygate.Generation{AppID: appID, Model: fmt.Sprintf("m/%d", n%3), Provider: "p",
						PromptTokens: int64(n), CompletionTokens: int64(2 * n), ReasoningTokens: int64(n % 5),
						Cost: keygate.Micros(n + 1), BYOK: n%7 == 0}
					if err := svc.Settle(t.Context(), r, g); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		charged += 200
	}
	var late []keygate.UsageEvent
	for i := range 40 {
		cost := keygate.Micros(i)
		late = append(late, keygate.UsageEvent{ID: fmt.Sprintf("late-%d", i), Key: secret, Model: "m/late",
			PromptTokens: int64(i), CompletionTokens: 1, Cost: &cost, App: &apps[i%2],
			CreatedAt: midnight.Add(-time.Duration(i+1) * 30 * time.Minute)})
	}
	for range 2 {
		_, err := svc.ReportUsage(t.Context(), late, nil)
		must(t, "ReportUsage", err)
	}
	return charged + len(late)
}
