package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// leaseTests run on stores that implement keygate.LeaseStore; others skip
// them.
var leaseTests = []test{
	{"Grants", func(t *testing.T, s keygate.Store) {
		ls, k := leaseFixture(t, s, 1000, keygate.ResetNone)
		w := totalWindow(k)
		steps := []struct {
			name  string
			want  keygate.Micros
			check keygate.Lease // but its ID: a new lease's when granted, else 0
		}{
			{"first", 300, keygate.Lease{Granted: 300, Amount: 300, Room: 700}},
			{"second-clamped", 800, keygate.Lease{Granted: 700, Amount: 700, Room: 0}},
			{"none-left", 1, keygate.Lease{}},
		}
		for _, st := range steps {
			got := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, Want: st.want, TTL: time.Minute})
			if (got.ID != 0) != (st.check.Granted > 0) {
				t.Errorf("%s: lease id %d", st.name, got.ID)
			}
			got.ID = 0
			diff(t, st.name, st.check, got)
		}
	}},
	{"UsageAndDraws", func(t *testing.T, s keygate.Store) {
		// Usage of the window counts against the room; a charge drawn
		// from a lease leaves usage plus leases, and so the room, as
		// they were.
		ls, k := leaseFixture(t, s, 1000, keygate.ResetDaily)
		w := keygate.UsageCounter{KeyHash: k.Hash, Period: keygate.PeriodDay, Start: keygate.PeriodsAt(t0).Day}
		record(t, s, k.Hash, []string{k.Hash}, t0, 200, false)
		record(t, s, k.Hash, []string{k.Hash}, t0, 50, true) // BYOK: not counted by this key
		record(t, s, k.Hash, []string{k.Hash}, at(-24*time.Hour), 500, false)
		l := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, Want: 300, TTL: time.Minute})
		diff(t, "lease", keygate.Lease{ID: l.ID, Granted: 300, Amount: 300, Used: 200, Room: 500}, l)
		g := &keygate.Generation{ID: "gen-" + newID(), KeyHash: k.Hash, Cost: 120, CreatedAt: t0}
		_, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g,
			Counters: charges([]string{k.Hash}, t0, 120, false), Leases: []keygate.LeaseDraw{{ID: l.ID, Micros: 120}}})
		must(t, "RecordGeneration", err)
		renewed := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, ID: l.ID, Keep: 180, TTL: time.Minute})
		diff(t, "renewed", keygate.Lease{ID: l.ID, Amount: 180, Used: 320, Room: 500}, renewed)
		// Drawing more than a lease holds empties it, no further.
		g = &keygate.Generation{ID: "gen-" + newID(), KeyHash: k.Hash, Cost: 400, CreatedAt: t0}
		_, _, err = s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g,
			Counters: charges([]string{k.Hash}, t0, 400, false), Leases: []keygate.LeaseDraw{{ID: l.ID, Micros: 400}}})
		must(t, "RecordGeneration", err)
		renewed = acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, ID: l.ID, TTL: time.Minute})
		diff(t, "overdrawn", keygate.Lease{ID: l.ID, Amount: 0, Used: 720, Room: 280}, renewed)
		// A lease is set to what its holder keeps, as far as the room
		// allows: a holder that keeps more than there is room for is cut.
		cut := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, ID: l.ID, Keep: 500, Want: 10, TTL: time.Minute})
		diff(t, "cut", keygate.Lease{ID: l.ID, Amount: 280, Used: 720, Room: 0}, cut)
	}},
	{"Stale", func(t *testing.T, s keygate.Store) {
		ls, k := leaseFixture(t, s, 1000, keygate.ResetNone)
		w := totalWindow(k)
		other := keygate.Micros(999)
		for _, tt := range []struct {
			name string
			key  keygate.APIKey
			want error
		}{
			{"limit", keygate.APIKey{Hash: k.Hash, Limit: &other}, keygate.ErrConflict},
			{"reset", keygate.APIKey{Hash: k.Hash, Limit: k.Limit, LimitReset: keygate.ResetDaily}, keygate.ErrConflict},
			{"byok", keygate.APIKey{Hash: k.Hash, Limit: k.Limit, IncludeBYOK: true}, keygate.ErrConflict},
			{"disabled", keygate.APIKey{Hash: k.Hash, Limit: k.Limit, Disabled: true}, keygate.ErrConflict},
			{"gone", keygate.APIKey{Hash: keygate.HashSecret("gone"), Limit: k.Limit}, keygate.ErrNotFound},
		} {
			_, err := ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{
				{Key: k, Window: w, Want: 10, TTL: time.Minute},
				{Key: &tt.key, Window: w, Want: 10, TTL: time.Minute},
			})
			wantErr(t, "AcquireLeases("+tt.name+")", err, tt.want)
		}
		// Nothing of the refused calls was granted.
		l := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, Want: 1000, TTL: time.Minute})
		if l.Granted != 1000 {
			t.Errorf("after refused calls: granted %d, want 1000", l.Granted)
		}
	}},
	{"ExpiryAndReturn", func(t *testing.T, s keygate.Store) {
		ls, k := leaseFixture(t, s, 1000, keygate.ResetNone)
		w := totalWindow(k)
		short := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, Want: 600, TTL: 50 * time.Millisecond})
		long := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, Want: 1000, TTL: time.Minute})
		if long.Granted != 400 {
			t.Fatalf("granted %d beside a live lease of 600, want 400", long.Granted)
		}
		time.Sleep(100 * time.Millisecond)
		// The expired lease counts for nothing, and one renewed after
		// its expiry starts again from its grant.
		again := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, ID: short.ID, Want: 100, TTL: time.Minute})
		diff(t, "expired lease renewed", keygate.Lease{ID: again.ID, Granted: 100, Amount: 100, Room: 500}, again)
		must(t, "ReturnLeases", ls.ReturnLeases(t.Context(), []keygate.LeaseDraw{{ID: long.ID, Micros: 150}, {ID: again.ID}, {ID: 1 << 40}}))
		l := acquire(t, ls, keygate.LeaseRequest{Key: k, Window: w, Want: 1000, TTL: time.Minute})
		if l.Granted != 850 {
			t.Errorf("after returning all but 150: granted %d, want 850", l.Granted)
		}
	}},
	{"Concurrent", func(t *testing.T, s keygate.Store) {
		// 16 workers grow leases by 7 until none is left: together they
		// get the limit exactly, never more.
		ls, k := leaseFixture(t, s, 1000, keygate.ResetWeekly)
		w := keygate.UsageCounter{KeyHash: k.Hash, Period: keygate.PeriodWeek, Start: keygate.PeriodsAt(t0).Week}
		var mu sync.Mutex
		var total keygate.Micros
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				var id int64
				var keep keygate.Micros
				for {
					got, err := ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{{Key: k, Window: w, ID: id, Keep: keep, Want: 7, TTL: time.Minute}})
					if err != nil {
						t.Errorf("AcquireLeases: %v", err)
						return
					}
					if got[0].Granted == 0 {
						return
					}
					id, keep = got[0].ID, got[0].Amount
					mu.Lock()
					total += got[0].Granted
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if total != 1000 {
			t.Errorf("granted %d in all, want 1000", total)
		}
	}},
}

// leaseFixture returns s as a LeaseStore, skipping the test for a store
// that is not one, and a stored key with limit and reset.
func leaseFixture(t *testing.T, s keygate.Store, limit keygate.Micros, reset keygate.LimitReset) (keygate.LeaseStore, *keygate.APIKey) {
	t.Helper()
	ls, ok := s.(keygate.LeaseStore)
	if !ok {
		t.Skip("the store hands out no leases")
	}
	_, ws := newUser(t, s)
	k := keyFor(ws, t0)
	k.Limit, k.LimitReset = &limit, reset
	must(t, "CreateKey", s.CreateKey(t.Context(), k))
	return ls, k
}

// totalWindow is the window of a limit without reset.
func totalWindow(k *keygate.APIKey) keygate.UsageCounter {
	return keygate.Counters(k.Hash, keygate.PeriodsAt(t0))[0]
}

// acquire asks for one lease.
func acquire(t *testing.T, ls keygate.LeaseStore, r keygate.LeaseRequest) keygate.Lease {
	t.Helper()
	got, err := ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{r})
	must(t, "AcquireLeases", err)
	return got[0]
}
