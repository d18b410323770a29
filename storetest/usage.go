package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var usageTests = []test{
	{"Empty", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		got, err := s.KeyUsage(t.Context(), k.Hash, keygate.PeriodsAt(t0))
		must(t, "KeyUsage", err)
		diff(t, "KeyUsage(no usage)", keygate.Usage{}, got)
		got, err = s.KeyUsage(t.Context(), keygate.HashSecret("unknown"), keygate.PeriodsAt(t0))
		must(t, "KeyUsage(unknown key)", err)
		diff(t, "KeyUsage(unknown key)", keygate.Usage{}, got)
	}},
	{"PeriodBoundaries", testUsagePeriods},
	{"BYOK", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		record(t, s, k.Hash, []string{k.Hash}, t0, 70, false)
		record(t, s, k.Hash, []string{k.Hash}, t0, 50, true)
		record(t, s, k.Hash, []string{k.Hash}, t0, 5, true)
		got, err := s.KeyUsage(t.Context(), k.Hash, keygate.PeriodsAt(t0))
		must(t, "KeyUsage", err)
		want := keygate.Usage{
			Total: 70, Daily: 70, Weekly: 70, Monthly: 70,
			BYOKTotal: 55, BYOKDaily: 55, BYOKWeekly: 55, BYOKMonthly: 55,
		}
		diff(t, "KeyUsage(BYOK)", want, got)
	}},
	{"Ancestors", func(t *testing.T, s keygate.Store) {
		// A key minted from a code of another key spends its parent's
		// budget too: the service passes both hashes.
		_, ws := newUser(t, s)
		grand := newKey(t, s, ws, t0)
		parent := newKey(t, s, ws, t0)
		child := newKey(t, s, ws, t0)
		record(t, s, child.Hash, []string{child.Hash, parent.Hash}, t0, 30, false)
		record(t, s, parent.Hash, []string{parent.Hash}, t0, 12, false)
		p := keygate.PeriodsAt(t0)
		for _, tt := range []struct {
			name string
			hash string
			want keygate.Micros
		}{
			{"Child", child.Hash, 30},
			{"Parent", parent.Hash, 42},
			{"NotListed", grand.Hash, 0},
		} {
			got, err := s.KeyUsage(t.Context(), tt.hash, p)
			must(t, "KeyUsage", err)
			want := keygate.Usage{Total: tt.want, Daily: tt.want, Weekly: tt.want, Monthly: tt.want}
			diff(t, "KeyUsage("+tt.name+")", want, got)
		}
	}},
	{"NoCounters", func(t *testing.T, s keygate.Store) {
		// An event stored for no key (keyHashes empty) counts nowhere.
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		record(t, s, k.Hash, nil, t0, 99, false)
		got, err := s.KeyUsage(t.Context(), k.Hash, keygate.PeriodsAt(t0))
		must(t, "KeyUsage", err)
		diff(t, "KeyUsage(no counters)", keygate.Usage{}, got)
	}},
	{"Concurrent", testUsageConcurrent},
}

// record stores one event for keyHash at tm and counts it for keyHashes.
func record(t *testing.T, s keygate.Store, keyHash string, keyHashes []string, tm time.Time, cost keygate.Micros, byok bool) {
	t.Helper()
	ev := &keygate.UsageEvent{
		KeyHash: keyHash, Model: "openai/gpt-4o-mini", PromptTokens: 120, CompletionTokens: 45,
		Cost: cost, BYOK: byok, CreatedAt: tm,
	}
	must(t, "RecordUsage", s.RecordUsage(t.Context(), ev, keyHashes, keygate.PeriodsAt(tm)))
}

// testUsagePeriods records 100 at a and 200 at b, and reads the usage in
// the periods of a and of b.
func testUsagePeriods(t *testing.T, s keygate.Store) {
	_, ws := newUser(t, s)
	app := newApp(t, s, "https://chat.example.com")
	utc := func(y int, m time.Month, d, h, min, sec, ns int) time.Time {
		return time.Date(y, m, d, h, min, sec, ns, time.UTC)
	}
	tests := []struct {
		name     string
		a, b     time.Time
		atA, atB keygate.Usage
	}{
		{
			// 2025-03-16 is a Sunday: the ISO week ends with it.
			name: "SundayToMonday",
			a:    utc(2025, 3, 16, 23, 59, 59, 999_000_000), b: utc(2025, 3, 17, 0, 0, 0, 0),
			atA: keygate.Usage{Total: 300, Daily: 100, Weekly: 100, Monthly: 300},
			atB: keygate.Usage{Total: 300, Daily: 200, Weekly: 200, Monthly: 300},
		},
		{
			name: "MonthEndMidWeek",
			a:    utc(2025, 3, 31, 23, 59, 59, 999_999_000), b: utc(2025, 4, 1, 0, 0, 0, 0),
			atA: keygate.Usage{Total: 300, Daily: 100, Weekly: 300, Monthly: 100},
			atB: keygate.Usage{Total: 300, Daily: 200, Weekly: 300, Monthly: 200},
		},
		{
			// 2024-12-31 and 2025-01-01 are in ISO week 2025-W01.
			name: "YearEndMidWeek",
			a:    utc(2024, 12, 31, 23, 59, 59, 0), b: utc(2025, 1, 1, 0, 0, 0, 0),
			atA: keygate.Usage{Total: 300, Daily: 100, Weekly: 300, Monthly: 100},
			atB: keygate.Usage{Total: 300, Daily: 200, Weekly: 300, Monthly: 200},
		},
		{
			name: "SameDay",
			a:    utc(2025, 3, 17, 0, 0, 0, 0), b: utc(2025, 3, 17, 23, 59, 59, 999_999_000),
			atA: keygate.Usage{Total: 300, Daily: 300, Weekly: 300, Monthly: 300},
			atB: keygate.Usage{Total: 300, Daily: 300, Weekly: 300, Monthly: 300},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, ws, t0)
			for _, ev := range []*keygate.UsageEvent{
				{KeyHash: k.Hash, AppID: ptr(app.ID), Model: "m", Cost: 100, CreatedAt: tt.a},
				{KeyHash: k.Hash, Model: "m", Cost: 200, CreatedAt: tt.b},
			} {
				must(t, "RecordUsage", s.RecordUsage(t.Context(), ev, []string{k.Hash}, keygate.PeriodsAt(ev.CreatedAt)))
			}
			for _, q := range []struct {
				at   time.Time
				want keygate.Usage
			}{{tt.a, tt.atA}, {tt.b, tt.atB}} {
				got, err := s.KeyUsage(t.Context(), k.Hash, keygate.PeriodsAt(q.at))
				must(t, "KeyUsage", err)
				diff(t, "KeyUsage(at "+q.at.Format(time.RFC3339Nano)+")", q.want, got)
			}
		})
	}
}

// testUsageConcurrent reports usage for one key from 16 goroutines at once:
// no increment may be lost.
func testUsageConcurrent(t *testing.T, s keygate.Store) {
	workers, perWorker := 16, 1000
	if testing.Short() {
		perWorker = 100
	}
	_, ws := newUser(t, s)
	k := newKey(t, s, ws, t0)
	p := keygate.PeriodsAt(t0)
	cost := func(w, i int) (keygate.Micros, bool) {
		return keygate.Micros(1 + (w*7+i)%13), i%5 == 0
	}
	var want keygate.Usage
	for w := range workers {
		for i := range perWorker {
			c, byok := cost(w, i)
			if byok {
				want.BYOKTotal += c
			} else {
				want.Total += c
			}
		}
	}
	want.Daily, want.Weekly, want.Monthly = want.Total, want.Total, want.Total
	want.BYOKDaily, want.BYOKWeekly, want.BYOKMonthly = want.BYOKTotal, want.BYOKTotal, want.BYOKTotal

	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				c, byok := cost(w, i)
				ev := &keygate.UsageEvent{KeyHash: k.Hash, Model: "m", Cost: c, BYOK: byok, CreatedAt: t0}
				if err := s.RecordUsage(t.Context(), ev, []string{k.Hash}, p); err != nil {
					t.Errorf("worker %d: RecordUsage #%d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	got, err := s.KeyUsage(t.Context(), k.Hash, p)
	must(t, "KeyUsage", err)
	diff(t, "KeyUsage after concurrent RecordUsage", want, got)
	n := workers * perWorker
	t.Logf("%d concurrent RecordUsage calls (%d workers) in %v, %v each",
		n, workers, elapsed.Round(time.Millisecond), (elapsed / time.Duration(n)).Round(time.Microsecond))
}
