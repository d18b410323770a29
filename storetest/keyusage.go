package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// testKeyWithUsage: KeyWithUsage answers what Key and UsageCounters answer
// apart, for a key with no counters, a key charged in this period and an
// earlier one (only this period's rows come back), and an unknown key.
func testKeyWithUsage(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	_, ws := newUser(t, s)
	// A key with every optional column set, so that each is read back.
	full := keyFor(ws, t0)
	full.Name, full.Limit, full.LimitReset = "full", ptr(keygate.Micros(5_000_000)), keygate.ResetDaily
	full.ExpiresAt, full.UpdatedAt, full.ExternalUser = ptr(at(48*time.Hour)), ptr(at(time.Hour)), ptr("ext-1")
	full.ParentHash = newKey(t, s, ws, t0).Hash
	must(t, "CreateKey", s.CreateKey(ctx, full))
	bare := newKey(t, s, ws, t0)

	now := time.Date(2026, 3, 18, 15, 0, 0, 0, time.UTC)
	record(t, s, full.Hash, []string{full.Hash}, now.AddDate(0, -2, 0), 700, false) // another day, week and month
	record(t, s, full.Hash, []string{full.Hash}, now.Add(-time.Hour), 300, false)
	record(t, s, full.Hash, []string{full.Hash}, now.Add(-2*time.Hour), 40, true)
	want := keygate.Counters(full.Hash, keygate.PeriodsAt(now))

	for _, k := range []*keygate.APIKey{full, bare} {
		want := keygate.Counters(k.Hash, keygate.PeriodsAt(now))
		gotKey, gotCounters, err := s.KeyWithUsage(ctx, k.Hash, want[:])
		must(t, "KeyWithUsage", err)
		diff(t, "KeyWithUsage key", k, gotKey)
		wantCounters, err := s.UsageCounters(ctx, k.Hash, want[:])
		must(t, "UsageCounters", err)
		byPeriod := func(a, b keygate.UsageCounter) int { return strings.Compare(a.Period, b.Period) }
		slices.SortFunc(gotCounters, byPeriod)
		slices.SortFunc(wantCounters, byPeriod)
		diff(t, "KeyWithUsage counters", wantCounters, gotCounters)
	}
	_, counters, err := s.KeyWithUsage(ctx, full.Hash, want[:])
	must(t, "KeyWithUsage", err)
	got := keygate.FoldUsage(keygate.PeriodsAt(now), counters)
	if got.Total != 1000 || got.Daily != 300 || got.BYOKTotal != 40 || got.BYOKDaily != 40 {
		t.Errorf("KeyWithUsage folded = %+v, want 1000 and 300 today, 40 BYOK today", got)
	}
	_, _, err = s.KeyWithUsage(ctx, keygate.HashSecret("unknown"), want[:])
	wantErr(t, "KeyWithUsage(unknown)", err, keygate.ErrNotFound)
}
