package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestChargeBatch queues charges behind a busy writer, so that they are
// written together (writeCharges), and checks each one's result and the
// stored counters to the micro-dollar: new ids charge, an id stored before
// and the second of one id charge nothing, a charge whose
// caller went away is skipped, a failing write batched with the charges
// undoes only its own writes, and every counter row holds the sum of the
// charges to it, the delegation parent's included.
func TestChargeBatch(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"), WithChargeJournal(false))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	ctx := t.Context()
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	p := keygate.PeriodsAt(t0)
	keys := []string{"key-a", "key-b", "key-c"}
	const parent = "key-parent"
	charge := func(id, key string, cost keygate.Micros) *keygate.Charge {
		var add []keygate.UsageCounter
		for _, h := range []string{key, parent} {
			for _, c := range keygate.Counters(h, p) {
				c.Micros = cost
				add = append(add, c)
			}
		}
		return &keygate.Charge{Generation: &keygate.Generation{ID: id, KeyHash: key, Model: "m", Cost: cost, CreatedAt: t0}, Counters: add}
	}
	if ok, _, err := db.RecordGeneration(ctx, charge("gen-old", "key-a", 1_000)); err != nil || !ok {
		t.Fatalf("RecordGeneration(gen-old) = %v, %v", ok, err)
	}

	type result struct {
		charged bool
		sums    []keygate.UsageCounter
		err     error
	}
	release, busy := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]result{}
	wg.Go(func() {
		db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(busy)
			<-release
			return nil
		})
	})
	<-busy
	record := func(name string, ctx context.Context, c *keygate.Charge) {
		wg.Go(func() {
			charged, sums, err := db.RecordGeneration(ctx, c)
			mu.Lock()
			results[name] = result{charged, sums, err}
			mu.Unlock()
		})
	}
	want := map[string]keygate.Micros{} // per key, new charges only
	const n = 100                       // more than one batch (maxBatch) and one chunk
	for i := range n {
		key := keys[i%len(keys)]
		cost := keygate.Micros(1 + i*7%13)
		want[key] += cost
		want[parent] += cost
		record(fmt.Sprint("new-", i), ctx, charge(fmt.Sprint("gen-", i), key, cost))
	}
	time.Sleep(100 * time.Millisecond) // queued after the new ones
	record("old", ctx, charge("gen-old", "key-b", 500))
	// The same charge as new-0: whichever of the two comes first is
	// charged, and the counters are the same either way.
	record("dup", ctx, charge("gen-0", "key-a", 1))
	gone, cancel := context.WithCancel(ctx)
	record("gone", gone, charge("gen-gone", "key-a", 900))
	errFail := errors.New("fail")
	var failErr error
	wg.Go(func() {
		failErr = db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, ref) VALUES ('test', 'fails')`); err != nil {
				return err
			}
			return errFail
		})
	})
	time.Sleep(200 * time.Millisecond) // all queued behind the busy writer
	cancel()
	close(release)
	wg.Wait()

	if !errors.Is(failErr, errFail) {
		t.Errorf("the failing write = %v, want %v", failErr, errFail)
	}
	if a, b := results["new-0"], results["dup"]; a.charged == b.charged {
		t.Errorf("two charges of gen-0: charged %v and %v, want exactly one", a.charged, b.charged)
	} else if b.charged {
		results["new-0"], results["dup"] = b, a
	}
	for name, r := range results {
		switch name {
		case "old", "dup":
			if r.err != nil || r.charged || r.sums != nil {
				t.Errorf("%s: RecordGeneration = %v, %v, %v; want not charged", name, r.charged, r.sums, r.err)
			}
		case "gone":
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("gone: RecordGeneration = %v, %v; want %v", r.charged, r.err, context.Canceled)
			}
		default:
			if r.err != nil || !r.charged || len(r.sums) != 8 {
				t.Errorf("%s: RecordGeneration = %v, %d sums, %v; want charged, 8 sums", name, r.charged, len(r.sums), r.err)
			}
		}
	}
	// The parent's total is 1,000 (gen-old) plus every new charge.
	want["key-a"] += 1_000
	want[parent] += 1_000
	for h, w := range want {
		got, err := db.UsageCounters(ctx, h, func() []keygate.UsageCounter { c := keygate.Counters(h, p); return c[:] }())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 {
			t.Fatalf("counters of %s: %d rows, want 4", h, len(got))
		}
		for _, c := range got {
			if c.Micros != w {
				t.Errorf("counter %s %s = %d µ$, want %d", h, c.Period, c.Micros, w)
			}
		}
	}
	var stored int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM generations`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n+1 {
		t.Errorf("%d generations stored, want %d", stored, n+1)
	}
	var failed int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM changes WHERE ref = 'fails'`).Scan(&failed); err != nil || failed != 0 {
		t.Errorf("the failing write left %d rows (%v)", failed, err)
	}
	// A sum each charge returned is at least what was stored before the
	// batch plus its own cost, and at most the final sum.
	for name, r := range results {
		for _, s := range r.sums {
			if s.Micros <= 0 || s.Micros > want[s.KeyHash] {
				t.Errorf("%s: sum %s %s = %d, want 1 to %d", name, s.KeyHash, s.Period, s.Micros, want[s.KeyHash])
			}
		}
	}
}

// TestChargeWhileFileLocked: a charge whose transaction cannot start (the
// file's write lock is held by another process past busy_timeout) fails
// with an error; it is never reported as settled, nor as a duplicate,
// which would leave the answer uncharged.
func TestChargeWhileFileLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for busy_timeout")
	}
	path := filepath.Join(t.TempDir(), "keygate.db")
	db, err := Open(t.Context(), path, WithChargeJournal(false))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	c := &keygate.Charge{Generation: &keygate.Generation{ID: "gen-locked", KeyHash: "key-a", Model: "m", Cost: 5, CreatedAt: time.Now()}}
	charged, sums, err := db.RecordGeneration(t.Context(), c)
	if err == nil {
		t.Errorf("RecordGeneration under another process's lock = %v, %v, nil; want an error", charged, sums)
	}
	if _, err := conn.ExecContext(t.Context(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	// Once the lock is gone, the same charge is made.
	if charged, _, err := db.RecordGeneration(t.Context(), c); err != nil || !charged {
		t.Errorf("RecordGeneration after the lock = %v, %v; want charged", charged, err)
	}
}
