package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWriteBatch queues writes behind a busy writer, so that they are
// committed in one batch, and checks that a failing or panicking function
// undoes only its own writes and that the others commit.
func TestWriteBatch(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	ctx := t.Context()
	insert := func(ref string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, ref) VALUES ('test', ?)`, ref)
			return err
		}
	}
	errFail := errors.New("fail")

	release := make(chan struct{})
	busy := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(busy)
			<-release
			return insert("first")(tx)
		})
	})
	<-busy

	results := map[string]any{}
	var mu sync.Mutex
	run := func(name string, fn func(tx *sql.Tx) error) {
		wg.Go(func() {
			var got any
			func() {
				defer func() {
					if p := recover(); p != nil {
						got = p
					}
				}()
				got = db.write(ctx, func(_ context.Context, tx *sql.Tx) error { return fn(tx) })
			}()
			mu.Lock()
			results[name] = got
			mu.Unlock()
		})
	}
	run("ok1", insert("ok1"))
	run("fails", func(tx *sql.Tx) error {
		if err := insert("fails")(tx); err != nil {
			return err
		}
		return errFail
	})
	run("panics", func(tx *sql.Tx) error {
		if err := insert("panics")(tx); err != nil {
			return err
		}
		panic("boom")
	})
	run("ok2", insert("ok2"))
	// Let the four queue up behind the busy writer. Should one come late, it
	// is committed on its own, and the outcome must be the same.
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()

	want := map[string]any{"ok1": nil, "fails": errFail, "panics": "boom", "ok2": nil}
	for name, w := range want {
		if got := results[name]; got != w {
			t.Errorf("write %s = %v, want %v", name, got, w)
		}
	}
	for ref, stored := range map[string]bool{"first": true, "ok1": true, "ok2": true, "fails": false, "panics": false} {
		var n int
		if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM changes WHERE ref = ?`, ref).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if got := n == 1; got != stored || n > 1 {
			t.Errorf("rows of %s = %d, want stored %v", ref, n, stored)
		}
	}
}

// TestWriteBatchSurvivesCancelledCaller: a caller whose context ends while
// its statement runs must not take the rest of its batch down with it (an
// interrupted write makes SQLite roll back the whole transaction).
func TestWriteBatchSurvivesCancelledCaller(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	ctx := t.Context()
	release, busy := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(busy)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, ref) VALUES ('test', 'first')`)
			return err
		})
	})
	<-busy
	slowCtx, cancel := context.WithCancel(ctx)
	started := make(chan struct{})
	var slowErr, otherErr error
	wg.Go(func() {
		slowErr = db.write(slowCtx, func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, ref)
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000)
				SELECT 'test', 'slow-' || count(*) FROM c`)
			return err
		})
	})
	time.Sleep(20 * time.Millisecond) // the slow write is queued first
	wg.Go(func() {
		otherErr = db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, ref) VALUES ('test', 'other')`)
			return err
		})
	})
	time.Sleep(20 * time.Millisecond)
	close(release)
	<-started
	time.Sleep(10 * time.Millisecond)
	cancel() // the slow caller goes away mid-statement
	wg.Wait()
	if otherErr != nil {
		t.Fatalf("a write batched with a cancelled caller failed: %v", otherErr)
	}
	var n int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM changes WHERE kind = 'test' AND ref IN ('first', 'other')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d of the 2 other writes committed (slow write: %v)", n, slowErr)
	}
}
