package keygate_test

import (
	"context"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// reserve reserves want for k and fails the test on an error.
func (f *fixture) reserve(k *keygate.APIKey, want keygate.Micros) *keygate.Reservation {
	f.t.Helper()
	r, err := f.svc.Reserve(f.ctx, k, want)
	if err != nil {
		f.t.Fatalf("Reserve(%d) = %v", want, err)
	}
	return r
}

// remaining returns k's limit_remaining now.
func (f *fixture) remaining(k *keygate.APIKey) keygate.Micros {
	f.t.Helper()
	info, err := f.svc.KeyInfo(f.ctx, k)
	if err != nil {
		f.t.Fatal(err)
	}
	if info.Remaining == nil {
		f.t.Fatal("limit_remaining = null")
	}
	return *info.Remaining
}

// TestReservationLifecycle: what a reservation holds is refused to others
// until it is settled or released, and given back at once either way.
func TestReservationLifecycle(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(1_000)})

	r := f.reserve(k, 999_999_999) // clamped to the room
	if r.Amount() != 1_000 {
		t.Errorf("Amount() = %d, want the 1000 left", r.Amount())
	}
	wantCode(t, canSpend(f.ctx, f.svc, k), keygate.EFORBIDDEN, "Key limit exceeded (total limit)")
	r.Release()
	r.Release() // a no-op
	if err := canSpend(f.ctx, f.svc, k); err != nil {
		t.Fatalf("after Release: %v", err)
	}

	r = f.reserve(k, 0) // the default reservation, clamped
	if r.Amount() != 1_000 {
		t.Errorf("Amount() of the default = %d, want 1000", r.Amount())
	}
	g := &keygate.Generation{ID: "gen-lifecycle", Model: "t/cheap", Cost: 35}
	if err := f.svc.Settle(f.ctx, r, g); err != nil {
		t.Fatal(err)
	}
	r.Release() // after Settle: a no-op
	if got := f.remaining(k); got != 965 {
		t.Errorf("limit_remaining after a 35 µ$ charge = %d, want 965", got)
	}
	if g.KeyHash != k.Hash || g.UserID != k.UserID || g.WorkspaceID != k.WorkspaceID {
		t.Errorf("Settle filled %q %q %q, want the key's", g.KeyHash, g.UserID, g.WorkspaceID)
	}

	// The id again, reported without a reservation (a retried report),
	// charges nothing.
	again := *g
	again.Cost = 500
	if err := f.svc.Settle(f.ctx, nil, &again); err != nil {
		t.Fatal(err)
	}
	if got := f.remaining(k); got != 965 {
		t.Errorf("limit_remaining after a second Settle of one id = %d, want 965", got)
	}
	// The id again for another request in flight is a conflict: nothing
	// charged, the hold kept for a settlement under a new id.
	r = f.reserve(k, 100)
	again = keygate.Generation{ID: g.ID, Cost: 40}
	wantCode(t, f.svc.Settle(f.ctx, r, &again), keygate.ECONFLICT, "")
	if got := f.remaining(k); got != 965 {
		t.Errorf("limit_remaining after a conflicting Settle = %d, want 965", got)
	}
	if other := f.reserve(k, 999_999); other.Amount() != 865 {
		t.Errorf("room after a conflicting Settle = %d, want 865 (965 less the 100 still held)", other.Amount())
	} else {
		other.Release()
	}
	again.ID = ""
	if err := f.svc.Settle(f.ctx, r, &again); err != nil {
		t.Fatal(err)
	}
	if got := f.remaining(k); got != 925 || again.ID == g.ID || again.ID == "" {
		t.Errorf("after settling under a new id %q: limit_remaining %d, want 925", again.ID, got)
	}
	stored, err := f.svc.Generation(f.ctx, k.UserID, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Cost != 35 || stored.Model != "t/cheap" {
		t.Errorf("Generation = cost %d model %q, want the first settlement's", stored.Cost, stored.Model)
	}

	var nilR *keygate.Reservation
	nilR.Release()
	if nilR.Amount() != 0 || nilR.Key() != nil {
		t.Error("a nil Reservation is not empty")
	}
}

// TestSettleShowsAtOnce: GET /api/v1/key's figures move as soon as Settle
// returns, though the key's usage was cached before.
func TestSettleShowsAtOnce(t *testing.T) {
	f := newFixture(t)
	_, parent := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(10_000), LimitReset: "daily"})
	k := f.delegated(parent, nil)
	for _, c := range []*keygate.APIKey{k, parent} {
		if _, err := f.svc.KeyInfo(f.ctx, c); err != nil { // cache the usage
			t.Fatal(err)
		}
	}
	if err := f.svc.Settle(f.ctx, f.reserve(k, 100), &keygate.Generation{Cost: 250}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*keygate.APIKey{k, parent} {
		info, err := f.svc.KeyInfo(f.ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		want := keygate.Usage{Total: 250, Daily: 250, Weekly: 250, Monthly: 250}
		if info.Usage != want {
			t.Errorf("%s usage = %+v, want %+v", c.Name, info.Usage, want)
		}
	}
	if got := f.remaining(parent); got != 9_750 {
		t.Errorf("parent limit_remaining = %d, want 9750", got)
	}
}

// TestLimitEdits: a limit lowered below the usage refuses the next call,
// raised admits it, removed admits anything; edits keep the usage.
func TestLimitEdits(t *testing.T) {
	f := newFixture(t)
	secret, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(1_000)})
	if err := f.svc.Settle(f.ctx, f.reserve(k, 600), &keygate.Generation{Cost: 600}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		update keygate.KeyUpdate
		code   string
	}{
		{"lowered-below-usage", keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(500)}, keygate.EFORBIDDEN},
		{"lowered-to-usage", keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(600)}, keygate.EFORBIDDEN},
		{"raised", keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(601)}, ""},
		{"renamed", keygate.KeyUpdate{Name: ptr("renamed")}, ""},
		{"zero", keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(0)}, keygate.EFORBIDDEN},
		{"removed", keygate.KeyUpdate{SetLimit: true}, ""},
	}
	for _, s := range steps {
		info, err := f.svc.UpdateKey(f.ctx, f.user.ID, k.Hash, s.update)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if info.Usage.Total != 600 {
			t.Errorf("%s: usage %d, want 600 kept", s.name, info.Usage.Total)
		}
		// The caller authenticates again, as every request does.
		k, err := f.svc.Authenticate(f.ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := canSpend(f.ctx, f.svc, k); keygate.ErrorCode(err) != s.code {
			t.Errorf("%s: Reserve = %v, want code %q", s.name, err, s.code)
		}
	}
}

// TestLimitWindows: each reset window admits again when it starts over
// (UTC day, ISO week from Monday, UTC month); the total never does. A
// charge lands in the windows containing its CreatedAt.
func TestLimitWindows(t *testing.T) {
	spent := time.Date(2026, 3, 8, 23, 30, 0, 0, time.UTC) // a Sunday
	tests := []struct {
		reset   string
		refused []time.Time
		admit   time.Time
		message string
	}{
		{"daily", []time.Time{time.Date(2026, 3, 8, 23, 59, 59, 999_999_000, time.UTC)}, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), "Key limit exceeded (daily limit)"},
		{"weekly", []time.Time{time.Date(2026, 3, 8, 23, 59, 59, 0, time.UTC)}, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), "Key limit exceeded (weekly limit)"},
		{"monthly", []time.Time{time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC)}, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), "Key limit exceeded (monthly limit)"},
		{"", []time.Time{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, time.Time{}, "Key limit exceeded (total limit)"},
	}
	for _, tt := range tests {
		t.Run("reset-"+tt.reset, func(t *testing.T) {
			f := newFixture(t)
			f.clock.Set(spent.Add(-time.Hour))
			_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(100), LimitReset: tt.reset})
			f.clock.Set(spent)
			// Reserved before midnight, settled after it: the charge is
			// in the window of the request's start.
			r := f.reserve(k, 100)
			f.clock.Set(spent.Add(10 * time.Minute))
			if err := f.svc.Settle(f.ctx, r, &keygate.Generation{Cost: 100, CreatedAt: spent}); err != nil {
				t.Fatal(err)
			}
			for _, at := range append([]time.Time{spent}, tt.refused...) {
				f.clock.Set(at)
				wantCode(t, canSpend(f.ctx, f.svc, k), keygate.EFORBIDDEN, tt.message)
			}
			if !tt.admit.IsZero() {
				f.clock.Set(tt.admit)
				if err := canSpend(f.ctx, f.svc, k); err != nil {
					t.Errorf("at %s: %v, want admitted", tt.admit, err)
				}
			}
		})
	}
}

// TestSettleValidationReleases: a settlement refused for its input
// charges nothing and gives the hold back.
func TestSettleValidationReleases(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(100)})
	for _, g := range []keygate.Generation{
		{Cost: -1},
		{ID: "gen with space"},
		{ID: "gen-\u00e9"},
		{PromptTokens: -5},
	} {
		wantCode(t, f.svc.Settle(f.ctx, f.reserve(k, 100), &g), keygate.EINVALID, "")
	}
	if got := f.remaining(k); got != 100 {
		t.Errorf("limit_remaining = %d, want 100", got)
	}
	if err := canSpend(f.ctx, f.svc, k); err != nil {
		t.Errorf("holds of refused settlements were kept: %v", err)
	}
}

// TestGenerationAccess: a generation is found by its user at once, and is
// 404 for anyone else, exactly like an unknown id.
func TestGenerationAccess(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{})
	other := f.newUser("bob@example.com")
	g := &keygate.Generation{ID: "chatcmpl-abc123", Model: "t/cheap", PromptTokens: 10, CompletionTokens: 20, Cost: 35, Streamed: true}
	if err := f.svc.Settle(f.ctx, f.reserve(k, 35), g); err != nil {
		t.Fatal(err)
	}
	// Reported without a reservation: the key says whose it is.
	reported := &keygate.Generation{ID: "gen-reported", KeyHash: k.Hash, Cost: 35, Streamed: true, CompletionTokens: 20}
	if err := f.svc.Settle(f.ctx, nil, reported); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, id string
		code           string
	}{
		{"owner", f.user.ID, g.ID, ""},
		{"owner-without-reservation", f.user.ID, reported.ID, ""},
		{"other-user", other.ID, g.ID, keygate.ENOTFOUND},
		{"unknown", f.user.ID, "chatcmpl-nope", keygate.ENOTFOUND},
		{"empty", f.user.ID, "", keygate.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.Generation(f.ctx, tt.user, tt.id)
			if keygate.ErrorCode(err) != tt.code {
				t.Fatalf("Generation = %v, want code %q", err, tt.code)
			}
			if err != nil {
				if keygate.ErrorMessage(err) != "Generation not found" {
					t.Errorf("message = %q", keygate.ErrorMessage(err))
				}
				return
			}
			if got.Cost != 35 || got.KeyHash != k.Hash || !got.Streamed || got.CompletionTokens != 20 {
				t.Errorf("Generation = %+v", got)
			}
		})
	}
}

// TestReserveUnavailable: with the store gone, a key whose balance is not
// in memory gets EUNAVAILABLE, never an unmetered admission.
func TestReserveUnavailable(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(100)})
	f.store.Close()
	_, err := f.svc.Reserve(f.ctx, k, 10)
	wantCode(t, err, keygate.EUNAVAILABLE, "the store cannot be reached to authorize spending")
}

// chargeSpy is a store that remembers the charges recorded through it.
type chargeSpy struct {
	*sqlite.DB
	mu      sync.Mutex
	charges []keygate.Charge
}

func (s *chargeSpy) RecordGeneration(ctx context.Context, c *keygate.Charge) (bool, []keygate.UsageCounter, error) {
	s.mu.Lock()
	s.charges = append(s.charges, *c)
	s.mu.Unlock()
	return s.DB.RecordGeneration(ctx, c)
}

// last returns the last charge recorded.
func (s *chargeSpy) last() keygate.Charge {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charges[len(s.charges)-1]
}

// TestSettleGenerationID: a generation settled without an id gets its
// reservation's (GenerationID: made once, in OpenRouter's gen-<unix>-
// form), and the store is told the id is new (Charge.NewID) only for an id
// Settle made and offers for the first time; an id the caller names is
// never new.
func TestSettleGenerationID(t *testing.T) {
	spy := &chargeSpy{}
	f := newFixtureWrapped(t, nil, func(db *sqlite.DB) keygate.Store { spy.DB = db; return spy })
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(1_000)})
	form := regexp.MustCompile(`^gen-` + strconv.FormatInt(f.clock.Now().Unix(), 10) + `-[0-9a-f]{32}$`)

	r := f.reserve(k, 35)
	id := r.GenerationID()
	if !form.MatchString(id) || r.GenerationID() != id {
		t.Fatalf("GenerationID() = %q, then %q: want one id of the form %s", id, r.GenerationID(), form)
	}
	if other := f.reserve(k, 35); other.GenerationID() == id {
		t.Error("two reservations have one generation id")
	} else {
		other.Release()
	}
	g := &keygate.Generation{Model: "t/cheap", Cost: 35}
	if err := f.svc.Settle(f.ctx, r, g); err != nil {
		t.Fatal(err)
	}
	if c := spy.last(); g.ID != id || c.Generation.ID != id || !c.NewID {
		t.Errorf("settled under %q (store told %q, new %v), want %q, new", g.ID, c.Generation.ID, c.NewID, id)
	}
	if got, err := f.svc.Generation(f.ctx, f.user.ID, id); err != nil || got.Cost != 35 {
		t.Errorf("Generation(%q) = %+v, %v", id, got, err)
	}

	// A reservation whose id went to the store once: its next Settle is
	// looked up (and charges nothing: the id is taken).
	r = f.reserve(k, 35)
	if err := f.svc.Settle(f.ctx, r, &keygate.Generation{Model: "t/cheap", Cost: 35}); err != nil {
		t.Fatal(err)
	}
	err := f.svc.Settle(f.ctx, r, &keygate.Generation{Model: "t/cheap", Cost: 35})
	if c := spy.last(); c.NewID || c.Generation.ID != r.GenerationID() {
		t.Errorf("second Settle of one reservation: id %q, new %v; want %q, not new", c.Generation.ID, c.NewID, r.GenerationID())
	}
	wantCode(t, err, keygate.ECONFLICT, "")

	// The reservation's id named by the caller, then left empty: offered
	// once already, so looked up the second time (ECONFLICT, no charge).
	r = f.reserve(k, 35)
	if err := f.svc.Settle(f.ctx, r, &keygate.Generation{ID: r.GenerationID(), Model: "t/cheap", Cost: 35}); err != nil {
		t.Fatal(err)
	}
	if err := spy.DB.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	err = f.svc.Settle(f.ctx, r, &keygate.Generation{Model: "t/cheap", Cost: 35})
	if c := spy.last(); c.NewID {
		t.Error("the reservation's id, named by the caller before, was passed as new")
	}
	wantCode(t, err, keygate.ECONFLICT, "")

	// Named by the caller: never new. Without a reservation: a new id.
	if err := f.svc.Settle(f.ctx, f.reserve(k, 35), &keygate.Generation{ID: "chatcmpl-named", Model: "t/cheap", Cost: 35}); err != nil {
		t.Fatal(err)
	}
	if c := spy.last(); c.NewID {
		t.Error("an id the caller named was passed as new")
	}
	g = &keygate.Generation{KeyHash: k.Hash, Model: "t/cheap", Cost: 35}
	if err := f.svc.Settle(f.ctx, nil, g); err != nil {
		t.Fatal(err)
	}
	if c := spy.last(); !form.MatchString(g.ID) || !c.NewID {
		t.Errorf("without a reservation: id %q, new %v; want a new id of keygate's", g.ID, c.NewID)
	}
	if got := f.remaining(k); got != 1_000-5*35 {
		t.Errorf("limit_remaining = %d, want %d: five charges of 35 µ$", got, 1_000-5*35)
	}
}
