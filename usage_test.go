package keygate_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// usd is an amount in whole micro-dollars, for readable tables.
const usd keygate.Micros = 1_000_000

// canSpend reports whether k may spend now: it reserves one micro-dollar
// for k and gives it back.
func canSpend(ctx context.Context, svc *keygate.Service, k *keygate.APIKey) error {
	r, err := svc.Reserve(ctx, k, 1)
	r.Release()
	return err
}

// periodTotals is the part of keygate.Usage the period tests look at.
type periodTotals struct{ Total, Daily, Weekly, Monthly keygate.Micros }

func totalsOf(u keygate.Usage) periodTotals {
	return periodTotals{u.Total, u.Daily, u.Weekly, u.Monthly}
}

// TestUsagePeriods records $1 at `before` and $2 at `after`, then reads the
// key's usage standing at each of the two instants: an amount counts in a
// period only when it was recorded inside it, so the two land in different
// days, weeks or months exactly when the instants do.
func TestUsagePeriods(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name          string
		before, after time.Time
		atBefore      periodTotals
		atAfter       periodTotals
	}{
		{
			// Sunday 8 March 2026 ends ISO week 10; Monday starts week 11.
			name:     "sunday-to-monday-new-iso-week",
			before:   time.Date(2026, 3, 8, 23, 59, 59, 0, time.UTC).Add(999 * ms),
			after:    time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC),
			atBefore: periodTotals{Total: 3 * usd, Daily: 1 * usd, Weekly: 1 * usd, Monthly: 3 * usd},
			atAfter:  periodTotals{Total: 3 * usd, Daily: 2 * usd, Weekly: 2 * usd, Monthly: 3 * usd},
		},
		{
			// Saturday 31 January and Sunday 1 February 2026 share an ISO week.
			name:     "january-31-to-february-1-new-month",
			before:   time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC).Add(999 * ms),
			after:    time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			atBefore: periodTotals{Total: 3 * usd, Daily: 1 * usd, Weekly: 3 * usd, Monthly: 1 * usd},
			atAfter:  periodTotals{Total: 3 * usd, Daily: 2 * usd, Weekly: 3 * usd, Monthly: 2 * usd},
		},
		{
			// 2028 is a leap year: 28 February is followed by the 29th, in
			// the same month (Monday and Tuesday of one ISO week).
			name:     "leap-february-28-to-29",
			before:   time.Date(2028, 2, 28, 23, 59, 59, 0, time.UTC).Add(999 * ms),
			after:    time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC),
			atBefore: periodTotals{Total: 3 * usd, Daily: 1 * usd, Weekly: 3 * usd, Monthly: 3 * usd},
			atAfter:  periodTotals{Total: 3 * usd, Daily: 2 * usd, Weekly: 3 * usd, Monthly: 3 * usd},
		},
		{
			name:     "leap-february-29-to-march-1",
			before:   time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC).Add(999 * ms),
			after:    time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC),
			atBefore: periodTotals{Total: 3 * usd, Daily: 1 * usd, Weekly: 3 * usd, Monthly: 1 * usd},
			atAfter:  periodTotals{Total: 3 * usd, Daily: 2 * usd, Weekly: 3 * usd, Monthly: 2 * usd},
		},
		{
			name:     "same-day",
			before:   time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC),
			after:    time.Date(2026, 3, 4, 20, 0, 0, 0, time.UTC),
			atBefore: periodTotals{Total: 3 * usd, Daily: 3 * usd, Weekly: 3 * usd, Monthly: 3 * usd},
			atAfter:  periodTotals{Total: 3 * usd, Daily: 3 * usd, Weekly: 3 * usd, Monthly: 3 * usd},
		},
		{
			// An offset that is not UTC must not move the boundary: 01:30
			// in UTC+2 is still Sunday 23:30 UTC.
			name:     "non-utc-clock",
			before:   time.Date(2026, 3, 9, 1, 30, 0, 0, time.FixedZone("EET", 2*3600)),
			after:    time.Date(2026, 3, 9, 2, 0, 0, 0, time.FixedZone("EET", 2*3600)),
			atBefore: periodTotals{Total: 3 * usd, Daily: 1 * usd, Weekly: 1 * usd, Monthly: 3 * usd},
			atAfter:  periodTotals{Total: 3 * usd, Daily: 2 * usd, Weekly: 2 * usd, Monthly: 3 * usd},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.clock.Set(tt.before.Add(-time.Hour))
			_, k := f.newKey(keygate.NewKeyParams{})
			for _, rec := range []struct {
				at   time.Time
				cost keygate.Micros
			}{{tt.before, 1 * usd}, {tt.after, 2 * usd}} {
				f.clock.Set(rec.at)
				if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: k.Hash, Model: "m", Cost: rec.cost}); err != nil {
					t.Fatal(err)
				}
			}
			for _, at := range []struct {
				name string
				t    time.Time
				want periodTotals
			}{{"after", tt.after, tt.atAfter}, {"before", tt.before, tt.atBefore}} {
				f.clock.Set(at.t)
				info, err := f.svc.KeyInfo(f.ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				if got := totalsOf(info.Usage); got != at.want {
					t.Errorf("usage standing %s (%s) = %+v, want %+v", at.name, at.t.Format(time.RFC3339Nano), got, at.want)
				}
			}
		})
	}
}

// TestDailyLimitResets: a daily limit exhausted today is available again
// from 00:00 UTC tomorrow, and GET /key's limit_remaining follows.
func TestDailyLimitResets(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC))
	limit := 2.0
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: &limit, LimitReset: "daily"})
	if err := canSpend(f.ctx, f.svc, k); err != nil {
		t.Fatalf("Reserve before any usage = %v", err)
	}
	for range 2 {
		if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: k.Hash, Cost: 1 * usd}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name      string
		at        time.Time
		remaining keygate.Micros
		code      string
	}{
		{"exhausted-today", time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC), 0, keygate.EFORBIDDEN},
		{"last-instant-of-today", time.Date(2026, 3, 4, 23, 59, 59, 999_999_000, time.UTC), 0, keygate.EFORBIDDEN},
		{"tomorrow-midnight", time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), 2 * usd, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.clock.Set(s.at)
			err := canSpend(f.ctx, f.svc, k)
			wantCode(t, err, s.code, "")
			if err != nil && keygate.ErrorMessage(err) != "Key limit exceeded (daily limit)" {
				t.Errorf("message = %q", keygate.ErrorMessage(err))
			}
			info, err := f.svc.KeyInfo(f.ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if info.Remaining == nil || *info.Remaining != s.remaining {
				t.Errorf("limit_remaining = %v, want %d", info.Remaining, s.remaining)
			}
		})
	}
}

func TestReserveLimits(t *testing.T) {
	limit := func(v float64) *float64 { return &v }
	past := "2026-03-04T13:00:00Z" // an hour after the fixture's clock
	tests := []struct {
		name  string
		p     keygate.NewKeyParams
		spend []keygate.Generation
		after time.Duration // clock moved forward before the check
		code  string
		msg   string
	}{
		{"no-limit", keygate.NewKeyParams{}, []keygate.Generation{{Cost: 1000 * usd}}, 0, "", ""},
		{"under-limit", keygate.NewKeyParams{LimitUSD: limit(5)}, []keygate.Generation{{Cost: 4 * usd}}, 0, "", ""},
		{"at-limit", keygate.NewKeyParams{LimitUSD: limit(5)}, []keygate.Generation{{Cost: 5 * usd}}, 0, keygate.EFORBIDDEN, "Key limit exceeded (total limit)"},
		{"zero-limit-is-a-cap", keygate.NewKeyParams{LimitUSD: limit(0)}, nil, 0, keygate.EFORBIDDEN, "Key limit exceeded (total limit)"},
		{"weekly", keygate.NewKeyParams{LimitUSD: limit(1), LimitReset: "weekly"}, []keygate.Generation{{Cost: 1 * usd}}, 0, keygate.EFORBIDDEN, "Key limit exceeded (weekly limit)"},
		{"weekly-next-week", keygate.NewKeyParams{LimitUSD: limit(1), LimitReset: "weekly"}, []keygate.Generation{{Cost: 1 * usd}}, 7 * 24 * time.Hour, "", ""},
		{"monthly", keygate.NewKeyParams{LimitUSD: limit(1), LimitReset: "monthly"}, []keygate.Generation{{Cost: 1 * usd}}, 0, keygate.EFORBIDDEN, "Key limit exceeded (monthly limit)"},
		{"byok-not-counted", keygate.NewKeyParams{LimitUSD: limit(1)}, []keygate.Generation{{Cost: 5 * usd, BYOK: true}}, 0, "", ""},
		{"byok-counted", keygate.NewKeyParams{LimitUSD: limit(1), IncludeBYOK: true}, []keygate.Generation{{Cost: 5 * usd, BYOK: true}}, 0, keygate.EFORBIDDEN, "Key limit exceeded (total limit)"},
		{"expired", keygate.NewKeyParams{ExpiresAt: &past}, nil, 2 * time.Hour, keygate.EUNAUTHORIZED, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, k := f.newKey(tt.p)
			for _, ev := range tt.spend {
				ev.KeyHash = k.Hash
				if err := f.svc.Settle(f.ctx, nil, &ev); err != nil {
					t.Fatal(err)
				}
			}
			f.clock.Set(f.clock.Now().Add(tt.after))
			wantCode(t, canSpend(f.ctx, f.svc, k), tt.code, tt.msg)
		})
	}
	t.Run("disabled", func(t *testing.T) {
		f := newFixture(t)
		_, k := f.newKey(keygate.NewKeyParams{})
		k, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, k.Hash, true)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, canSpend(f.ctx, f.svc, k), keygate.EUNAUTHORIZED, "disabled")
	})
}

// delegated stores a key minted from parent, as an exchange of a code made
// with parent would.
func (f *fixture) delegated(parent *keygate.APIKey, limit *keygate.Micros) *keygate.APIKey {
	f.t.Helper()
	k := &keygate.APIKey{
		Hash:        keygate.HashSecret(keygate.NewKey(keygate.DefaultKeyPrefix)),
		UserID:      parent.UserID,
		WorkspaceID: parent.WorkspaceID,
		ParentHash:  parent.Hash,
		Name:        "child",
		Label:       "child",
		Limit:       limit,
		CreatedAt:   f.clock.Now(),
	}
	if err := f.store.CreateKey(f.ctx, k); err != nil {
		f.t.Fatal(err)
	}
	return k
}

// TestUsageCountsAgainstAncestors: a delegated key's spending is added to
// its parent's and grandparent's counters, and the chain's tightest limit
// decides.
func TestUsageCountsAgainstAncestors(t *testing.T) {
	f := newFixture(t)
	three := 3.0
	_, root := f.newKey(keygate.NewKeyParams{LimitUSD: &three})
	mid := f.delegated(root, nil)
	leaf := f.delegated(mid, nil)
	_, sibling := f.newKey(keygate.NewKeyParams{})

	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: leaf.Hash, Cost: 2 * usd}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: mid.Hash, Cost: 1 * usd}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		k    *keygate.APIKey
		want keygate.Micros
	}{{"leaf", leaf, 2 * usd}, {"mid", mid, 3 * usd}, {"root", root, 3 * usd}, {"unrelated", sibling, 0}} {
		info, err := f.svc.KeyInfo(f.ctx, c.k)
		if err != nil {
			t.Fatal(err)
		}
		if info.Usage.Total != c.want {
			t.Errorf("%s usage = %d, want %d", c.name, info.Usage.Total, c.want)
		}
	}
	// root is at its $3 limit: every key under it is stopped with the
	// limit's own message, though leaf and mid have no limit of their own.
	for _, k := range []*keygate.APIKey{root, mid, leaf} {
		wantCode(t, canSpend(f.ctx, f.svc, k), keygate.EFORBIDDEN, "Key limit exceeded (total limit)")
	}
	if err := canSpend(f.ctx, f.svc, sibling); err != nil {
		t.Errorf("Reserve(unrelated key) = %v", err)
	}

	// A disabled ancestor stops its descendants with 401.
	if _, err := f.svc.UpdateKey(f.ctx, f.user.ID, root.Hash, keygate.KeyUpdate{SetLimit: true}); err != nil {
		t.Fatal(err)
	}
	if err := canSpend(f.ctx, f.svc, leaf); err != nil {
		t.Fatalf("Reserve(leaf) with the root's limit removed = %v", err)
	}
	if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, mid.Hash, true); err != nil {
		t.Fatal(err)
	}
	wantCode(t, canSpend(f.ctx, f.svc, leaf), keygate.EUNAUTHORIZED, "")

	// Usage of a deleted key is still recorded, for itself alone.
	if err := f.svc.DeleteKey(f.ctx, f.user.ID, leaf.Hash); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: leaf.Hash, Cost: 1 * usd}); err != nil {
		t.Fatalf("Settle for a deleted key = %v", err)
	}
}

func TestSettleValidation(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{})
	tests := []struct {
		name  string
		ev    keygate.Generation
		field string
	}{
		{"no-key", keygate.Generation{Cost: 1}, "key_hash"},
		{"negative-cost", keygate.Generation{KeyHash: k.Hash, Cost: -1}, "cost"},
		{"negative-prompt-tokens", keygate.Generation{KeyHash: k.Hash, PromptTokens: -1}, "prompt_tokens"},
		{"negative-completion-tokens", keygate.Generation{KeyHash: k.Hash, CompletionTokens: -1}, "completion_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, f.svc.Settle(f.ctx, nil, &tt.ev), keygate.EINVALID, tt.field)
		})
	}
	info, err := f.svc.KeyInfo(f.ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if info.Usage != (keygate.Usage{}) {
		t.Errorf("refused events were counted: %+v", info.Usage)
	}
}

// TestSettleConcurrent: 16 goroutines record 1,000 events each on one
// key (and so on its parent); no increment may be lost.
func TestSettleConcurrent(t *testing.T) {
	const workers, each = 16, 1000
	f := newFixture(t)
	_, parent := f.newKey(keygate.NewKeyParams{})
	k := f.delegated(parent, nil)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := &keygate.Generation{KeyHash: k.Hash, Model: "m", PromptTokens: 1, CompletionTokens: 1, Cost: 3, BYOK: (w+i)%4 == 0}
				if err := f.svc.Settle(f.ctx, nil, ev); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// (w+i)%4 == 0 holds for exactly a quarter of the events.
	const n = workers * each
	want := keygate.Usage{
		Total: 3 * n * 3 / 4, Daily: 3 * n * 3 / 4, Weekly: 3 * n * 3 / 4, Monthly: 3 * n * 3 / 4,
		BYOKTotal: 3 * n / 4, BYOKDaily: 3 * n / 4, BYOKWeekly: 3 * n / 4, BYOKMonthly: 3 * n / 4,
	}
	for _, key := range []*keygate.APIKey{k, parent} {
		info, err := f.svc.KeyInfo(f.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Usage != want {
			t.Errorf("usage of %s = %+v, want %+v", key.Name, info.Usage, want)
		}
	}
}
