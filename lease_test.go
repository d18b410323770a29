package keygate_test

import (
	"context"
	"errors"
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

// The spending engine on PostgreSQL: several Services, each on its own
// pool to one schema, as replicas are.

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
// request per replica, and the log line counts it with the database
// writes.
func TestReserveRaceReplicas(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	tests := []struct {
		name       string
		want, cost keygate.Micros
		limit      keygate.Micros
		maxSpent   keygate.Micros
	}{
		{"exact", 100, 100, 1000, 1000},
		// The bound: one clamped request in flight per replica, each
		// holding at least 1 µ$ of what it costs.
		{"clamped", 300, 300, 1000, 1000 + 3*(300-1)},
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

// listen keeps the caches of each of svcs in step with the change feed of
// its db until the test ends.
func listen(t *testing.T, svcs []*keygate.Service, dbs []*postgres.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range svcs {
		wg.Go(func() { dbs[i].Listen(ctx, svcs[i].Invalidations()) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// eventually calls check every 10 ms until it returns nil or within has
// passed, and reports how long it took.
func eventually(t *testing.T, within time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: still %v after %v", what, err, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdminChangesReachReplicas: a key disabled on one replica stops
// spending from the leases of the others, and a raised limit admits there,
// within a second (the change feed).
func TestAdminChangesReachReplicas(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	listen(t, svcs, dbs)
	a, b := svcs[0], svcs[1]
	u, err := a.CreateUser(t.Context(), "admin@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	secret, k, err := a.CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: "k", LimitUSD: limitUSD(10_000)})
	if err != nil {
		t.Fatal(err)
	}
	// b holds a lease of the key, with room left in it.
	r, err := b.Reserve(t.Context(), k, 100)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()

	if _, err := a.SetKeyDisabled(t.Context(), u.ID, k.Hash, true); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, time.Second, "the disabled key on another replica", func() error {
		// The gateway's copy of the key, read before the change.
		r, err := b.Reserve(t.Context(), k, 100)
		r.Release()
		if keygate.ErrorCode(err) == keygate.EUNAUTHORIZED {
			return nil
		}
		return fmt.Errorf("Reserve = %v", err)
	})
	t.Logf("disabled on A, refused on B after %v", took)

	if _, err := a.SetKeyDisabled(t.Context(), u.ID, k.Hash, false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateKey(t.Context(), u.ID, k.Hash, keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(100)}); err != nil {
		t.Fatal(err)
	}
	g := &keygate.Generation{ID: "gen-" + k.Hash[:8], KeyHash: k.Hash, Cost: 100}
	if err := a.Settle(t.Context(), nil, g); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "the lowered limit on another replica", func() error {
		k, err := b.Authenticate(t.Context(), secret)
		if err != nil {
			return err
		}
		r, err := b.Reserve(t.Context(), k, 100)
		r.Release()
		if keygate.ErrorMessage(err) == "Key limit exceeded (total limit)" {
			return nil
		}
		return fmt.Errorf("Reserve = %v", err)
	})
	if _, err := a.UpdateKey(t.Context(), u.ID, k.Hash, keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(200)}); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, time.Second, "the raised limit on another replica", func() error {
		k, err := b.Authenticate(t.Context(), secret)
		if err != nil {
			return err
		}
		r, err := b.Reserve(t.Context(), k, 100)
		r.Release()
		return err
	})
	t.Logf("limit raised on A, admitted on B after %v", took)
}

// leaseOutage is a real PostgreSQL store whose lease grants fail while
// down is set, as they would with the database unreachable.
type leaseOutage struct {
	*postgres.DB
	down atomic.Bool
}

func (s *leaseOutage) AcquireLeases(ctx context.Context, reqs []keygate.LeaseRequest) ([]keygate.Lease, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return s.DB.AcquireLeases(ctx, reqs)
}

// TestDatabaseDown: with the database unreachable, a replica spends what
// its leases hold and refuses with EUNAVAILABLE what needs a new lease,
// never admitting unmetered; it recovers when the database answers.
func TestDatabaseDown(t *testing.T) {
	_, dbs := replicas(t, 1)
	store := &leaseOutage{DB: dbs[0]}
	svc := keygate.NewService(store, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	k := pgKey(t, svc, 1_600, "")
	// The first request leases max(100, 1600/16) = 100: its own hold.
	spend := func(i int) error {
		r, err := svc.Reserve(t.Context(), k, 100)
		if err != nil {
			return err
		}
		return svc.Settle(t.Context(), r, &keygate.Generation{ID: fmt.Sprintf("gen-down-%d", i), Cost: r.Amount()})
	}
	if err := spend(0); err != nil {
		t.Fatal(err)
	}
	// A reservation of 60 leaves 40 of a fresh 100 lease.
	r, err := svc.Reserve(t.Context(), k, 60)
	if err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	if err := svc.Settle(t.Context(), r, &keygate.Generation{ID: "gen-down-60", Cost: 60}); err != nil {
		t.Fatal(err)
	}
	// What the lease holds is spent: 40, clamped.
	r, err = svc.Reserve(t.Context(), k, 100)
	if err != nil {
		t.Fatalf("Reserve from the lease while down = %v", err)
	}
	if r.Amount() != 40 {
		t.Errorf("held %d from the lease while down, want the 40 left", r.Amount())
	}
	if err := svc.Settle(t.Context(), r, &keygate.Generation{ID: "gen-down-40", Cost: 40}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Reserve(t.Context(), k, 100)
	wantCode(t, err, keygate.EUNAVAILABLE, "the store cannot be reached to authorize spending")
	store.down.Store(false)
	// Within a quarter of a second (leaseRetry) the replica asks again.
	eventually(t, time.Second, "spending after the database is back", func() error { return spend(1) })
	info, err := svc.KeyInfo(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	if info.Usage.Total != 300 {
		t.Errorf("usage %d µ$, want 300", info.Usage.Total)
	}
}

// TestIdleLeaseReturns: a lease that a replica stopped using goes back
// within a few seconds, and another replica can then spend the room.
func TestIdleLeaseReturns(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the lease sweeper")
	}
	svcs, dbs := replicas(t, 2)
	a, b := svcs[0], svcs[1]
	k := pgKey(t, a, 100, "")
	r, err := a.Reserve(t.Context(), k, 100) // a leases the whole limit
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	_, err = b.Reserve(t.Context(), k, 100)
	wantCode(t, err, keygate.EFORBIDDEN, "Key limit exceeded (total limit)")
	w0 := writes(dbs)
	took := eventually(t, 5*time.Second, "the room of an idle lease on another replica", func() error {
		r, err := b.Reserve(t.Context(), k, 100)
		r.Release()
		return err
	})
	t.Logf("admitted on B %v after A's lease went idle, %d writes meanwhile", took, writes(dbs)-w0)
}

// TestSettleAgainAfterRefusal: a settlement refused for its id releases
// the hold; settling again with another id still charges the lease the
// hold came from, so the replica cannot spend that money twice.
func TestSettleAgainAfterRefusal(t *testing.T) {
	svcs, _ := replicas(t, 1)
	svc := svcs[0]
	k := pgKey(t, svc, 100, "")
	r, err := svc.Reserve(t.Context(), k, 100)
	if err != nil {
		t.Fatal(err)
	}
	g := &keygate.Generation{ID: "bad id", Cost: 100}
	wantCode(t, svc.Settle(t.Context(), r, g), keygate.EINVALID, "id")
	g.ID = ""
	if err := svc.Settle(t.Context(), r, g); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Reserve(t.Context(), k, 1)
	wantCode(t, err, keygate.EFORBIDDEN, "Key limit exceeded (total limit)")
}

// TestLeaseRenewedWhileHeld: a request that holds part of a lease for
// longer than the lease's TTL keeps it counted (the sweeper renews it), so
// no other replica can spend the money it holds.
func TestLeaseRenewedWhileHeld(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a lease for three seconds")
	}
	_, dbs := replicas(t, 2)
	cfg := keygate.DefaultConfig()
	cfg.LeaseTTL = 2 * time.Second
	a := keygate.NewService(dbs[0], cfg, keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	b := keygate.NewService(dbs[1], cfg, keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	k := pgKey(t, a, 100, "")
	long, err := a.Reserve(t.Context(), k, 100)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(100 * time.Millisecond) {
		r, err := b.Reserve(t.Context(), k, 100)
		r.Release()
		if err == nil {
			t.Fatalf("B was admitted %v into A's hold of the whole limit", time.Since(start))
		}
	}
	if err := a.Settle(t.Context(), long, &keygate.Generation{ID: "gen-long-" + k.Hash[:8], Cost: 100}); err != nil {
		t.Fatal(err)
	}
	info, err := b.KeyInfo(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	if info.Usage.Total != 100 {
		t.Errorf("usage %d, want 100", info.Usage.Total)
	}
}

// TestUsageSeenOnEveryReplica: a charge settled on one replica shows in
// GET /api/v1/key on the others at once (the change feed drops their
// cached usage), not after Config.UsageCacheTTL.
func TestUsageSeenOnEveryReplica(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	listen(t, svcs, dbs)
	k := pgKey(t, svcs[0], 10_000, "daily")
	for _, svc := range svcs[1:] {
		if _, err := svc.KeyInfo(t.Context(), k); err != nil { // cache the usage
			t.Fatal(err)
		}
	}
	r, err := svcs[0].Reserve(t.Context(), k, 500)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs[0].Settle(t.Context(), r, &keygate.Generation{ID: "gen-seen-" + k.Hash[:8], Cost: 350}); err != nil {
		t.Fatal(err)
	}
	for i, svc := range svcs[1:] {
		took := eventually(t, time.Second, "the charge on another replica", func() error {
			info, err := svc.KeyInfo(t.Context(), k)
			if err != nil {
				return err
			}
			if info.Usage.Daily != 350 || info.Remaining == nil || *info.Remaining != 9_650 {
				return fmt.Errorf("usage_daily %d, limit_remaining %v", info.Usage.Daily, info.Remaining)
			}
			return nil
		})
		t.Logf("replica %d shows the charge after %v", i+1, took)
	}
}

// TestLeasesAskedTogether: when many keys need a lease at once, the
// replica asks for them together, in a few writes rather than one per key;
// a key changed behind the replica's back (its copy is stale) in such a
// batch is decided on its stored version, and the other keys of the batch
// are leased all the same.
func TestLeasesAskedTogether(t *testing.T) {
	svcs, dbs := replicas(t, 2)
	a, b := svcs[0], svcs[1]
	const n = 64
	keys := make([]*keygate.APIKey, n)
	for i := range keys {
		keys[i] = pgKey(t, a, 1_000_000, "monthly")
	}
	// b lowers the first key's limit; a still has the old copy.
	u := keys[0].UserID
	if _, err := b.UpdateKey(t.Context(), u, keys[0].Hash, keygate.KeyUpdate{SetLimit: true, LimitUSD: limitUSD(500)}); err != nil {
		t.Fatal(err)
	}
	w0 := writes(dbs[:1])
	held := make([]keygate.Micros, n)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			r, err := a.Reserve(t.Context(), k, 1_000)
			if err != nil {
				t.Errorf("Reserve(key %d): %v", i, err)
				return
			}
			held[i] = r.Amount()
			r.Release()
		})
	}
	wg.Wait()
	grants := writes(dbs[:1]) - w0
	t.Logf("%d keys leased at once: %d writes", n, grants)
	if grants > n/4 {
		t.Errorf("%d keys leased at once took %d writes, want at most %d", n, grants, n/4)
	}
	// The changed key was held against its new limit, the others in full.
	want := func(i int) keygate.Micros {
		if i == 0 {
			return 500
		}
		return 1_000
	}
	for i := range keys {
		if held[i] != want(i) {
			t.Errorf("key %d: held %d µ$, want %d", i, held[i], want(i))
		}
	}
}

// TestIdleLeaseKeptFarFromLimit: a lease of a key far from its limit is
// not given back when it goes idle, so a key used now and then is not
// leased again for each request; near its limit it is (TestIdleLeaseReturns).
func TestIdleLeaseKeptFarFromLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the lease sweeper")
	}
	svcs, dbs := replicas(t, 1)
	k := pgKey(t, svcs[0], 1_000_000, "")
	r, err := svcs[0].Reserve(t.Context(), k, 100)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	w0 := writes(dbs)
	time.Sleep(3500 * time.Millisecond) // past leaseIdle and a sweep
	r, err = svcs[0].Reserve(t.Context(), k, 100)
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	if n := writes(dbs) - w0; n != 0 {
		t.Errorf("%d writes for an idle lease and a reservation from it, want 0", n)
	}
}
