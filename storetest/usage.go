package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var usageTests = []test{
	{"Empty", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		got, err := keyUsage(t, s, k.Hash, keygate.PeriodsAt(t0))
		must(t, "UsageCounters", err)
		diff(t, "KeyUsage(no usage)", keygate.Usage{}, got)
		got, err = keyUsage(t, s, keygate.HashSecret("unknown"), keygate.PeriodsAt(t0))
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
		got, err := keyUsage(t, s, k.Hash, keygate.PeriodsAt(t0))
		must(t, "UsageCounters", err)
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
			got, err := keyUsage(t, s, tt.hash, p)
			must(t, "UsageCounters", err)
			want := keygate.Usage{Total: tt.want, Daily: tt.want, Weekly: tt.want, Monthly: tt.want}
			diff(t, "KeyUsage("+tt.name+")", want, got)
		}
	}},
	{"NoCounters", func(t *testing.T, s keygate.Store) {
		// A generation stored for no key (no counters) counts nowhere.
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		record(t, s, k.Hash, nil, t0, 99, false)
		got, err := keyUsage(t, s, k.Hash, keygate.PeriodsAt(t0))
		must(t, "UsageCounters", err)
		diff(t, "KeyUsage(no counters)", keygate.Usage{}, got)
	}},
	{"Concurrent", testUsageConcurrent},
}

// record stores one generation of keyHash at tm and charges cost to
// the counters of keyHashes.
func record(t *testing.T, s keygate.Store, keyHash string, keyHashes []string, tm time.Time, cost keygate.Micros, byok bool) {
	t.Helper()
	g := &keygate.Generation{
		ID: "gen-" + newID(), KeyHash: keyHash, Model: "openai/gpt-4o-mini", PromptTokens: 120, CompletionTokens: 45,
		Cost: cost, BYOK: byok, CreatedAt: tm,
	}
	charged, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g, Counters: charges(keyHashes, tm, cost, byok)})
	must(t, "RecordGeneration", err)
	if !charged {
		t.Fatalf("RecordGeneration(new id) charged = false")
	}
}

// charges returns the counters that cost at tm adds to, for each key of
// keyHashes.
func charges(keyHashes []string, tm time.Time, cost keygate.Micros, byok bool) []keygate.UsageCounter {
	var add []keygate.UsageCounter
	for _, h := range keyHashes {
		for _, c := range keygate.Counters(h, keygate.PeriodsAt(tm)) {
			if byok {
				c.BYOKMicros = cost
			} else {
				c.Micros = cost
			}
			add = append(add, c)
		}
	}
	return add
}

// keyUsage reads the usage of hash in the periods p.
func keyUsage(t *testing.T, s keygate.Store, hash string, p keygate.Periods) (keygate.Usage, error) {
	t.Helper()
	want := keygate.Counters(hash, p)
	rows, err := s.UsageCounters(t.Context(), hash, want[:])
	return keygate.FoldUsage(p, rows), err
}

// testUsagePeriods records 100 at a and 200 at b, and reads the usage in
// the periods of a and of b.
func testUsagePeriods(t *testing.T, s keygate.Store) {
	_, ws := newUser(t, s)
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
			record(t, s, k.Hash, []string{k.Hash}, tt.a, 100, false)
			record(t, s, k.Hash, []string{k.Hash}, tt.b, 200, false)
			for _, q := range []struct {
				at   time.Time
				want keygate.Usage
			}{{tt.a, tt.atA}, {tt.b, tt.atB}} {
				got, err := keyUsage(t, s, k.Hash, keygate.PeriodsAt(q.at))
				must(t, "UsageCounters", err)
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
				g := &keygate.Generation{ID: fmt.Sprintf("gen-%d-%d", w, i), KeyHash: k.Hash, Model: "m", Cost: c, BYOK: byok, CreatedAt: t0}
				if _, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g, Counters: charges([]string{k.Hash}, t0, c, byok)}); err != nil {
					t.Errorf("worker %d: RecordGeneration #%d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	got, err := keyUsage(t, s, k.Hash, p)
	must(t, "UsageCounters", err)
	diff(t, "usage after concurrent RecordGeneration", want, got)
	n := workers * perWorker
	t.Logf("%d concurrent RecordGeneration calls (%d workers) in %v, %v each",
		n, workers, elapsed.Round(time.Millisecond), (elapsed / time.Duration(n)).Round(time.Microsecond))
}
