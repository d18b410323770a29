package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/postgres/pgtest"
)

// TestTxRetries: a transaction that PostgreSQL aborts for a deadlock
// (40P01) or a serialization failure (40001) is run again, up to
// TxAttempts times, and what an aborted attempt wrote is not kept; any
// other error ends it at once.
func TestTxRetries(t *testing.T) {
	db := pgtest.Open(t)
	deadlock := &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	serialization := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	unique := &pgconn.PgError{Code: "23505", Message: "duplicate key value"}
	other := errors.New("not a database error")
	tests := []struct {
		name      string
		errs      []error // what each attempt returns, nil past the end
		wantCalls int
		wantErr   error
	}{
		{"Success", nil, 1, nil},
		{"DeadlockThenSuccess", []error{deadlock}, 2, nil},
		{"SerializationFailureThenSuccess", []error{serialization}, 2, nil},
		{"TwoFailuresThenSuccess", []error{deadlock, serialization}, 3, nil},
		{"AlwaysDeadlock", []error{deadlock, deadlock, deadlock, deadlock}, postgres.TxAttempts, deadlock},
		{"UniqueViolation", []error{unique}, 1, unique},
		{"OtherError", []error{other}, 1, other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			calls := 0
			err := db.Tx(ctx, func(tx pgx.Tx) error {
				calls++
				// Every attempt writes; only the one that commits may stay.
				if _, err := tx.Exec(ctx,
					`INSERT INTO audit_events (created_at, action, detail) VALUES (now(), 'tx.test', $1)`, tt.name); err != nil {
					return err
				}
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Tx = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("fn ran %d times, want %d", calls, tt.wantCalls)
			}
			var rows int
			if err := db.Pool().QueryRow(ctx,
				`SELECT count(*) FROM audit_events WHERE action = 'tx.test' AND detail = $1`, tt.name).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			want := 0
			if tt.wantErr == nil {
				want = 1
			}
			if rows != want {
				t.Errorf("%d rows written by the attempts, want %d (the committed one only)", rows, want)
			}
		})
	}
}

// TestTxRetryStopsWithContext: no attempt follows once the context is
// done; the aborted attempt's error is returned.
func TestTxRetryStopsWithContext(t *testing.T) {
	db := pgtest.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := db.Tx(ctx, func(pgx.Tx) error {
		calls++
		cancel()
		return &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	})
	if pe, ok := errors.AsType[*pgconn.PgError](err); !ok || pe.Code != "40P01" {
		t.Errorf("Tx = %v, want the deadlock", err)
	}
	if calls != 1 {
		t.Errorf("fn ran %d times after its context was cancelled, want 1", calls)
	}
}

// TestTxRetriesRealDeadlock runs two transactions that lock the same two
// rows in opposite orders, each holding its first lock until the other
// holds its own: PostgreSQL aborts one of them (after its
// deadlock_timeout) and tx runs that one again, so both succeed.
func TestTxRetriesRealDeadlock(t *testing.T) {
	db := pgtest.Open(t)
	ctx := t.Context()
	var ids [2]int64
	for i, url := range []string{"https://a.example.com", "https://b.example.com"} {
		a, err := db.UpsertApp(ctx, &keygate.App{URL: url, Title: "App", CreatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
	}
	var attempts atomic.Int32
	var locked sync.WaitGroup // both first locks held
	locked.Add(2)
	run := func(first, second int64, title string) error {
		attempt := 0
		return db.Tx(ctx, func(tx pgx.Tx) error {
			attempt++
			attempts.Add(1)
			if _, err := tx.Exec(ctx, `UPDATE apps SET title = $1 WHERE id = $2`, title, first); err != nil {
				return err
			}
			if attempt == 1 {
				locked.Done()
				locked.Wait()
			}
			_, err := tx.Exec(ctx, `UPDATE apps SET title = $1 WHERE id = $2`, title, second)
			return err
		})
	}
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = run(ids[0], ids[1], "first") })
	wg.Go(func() { errs[1] = run(ids[1], ids[0], "second") })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v, want it run again until it commits", i, err)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts in all, want 3 (one transaction run twice)", n)
	}
	// The one run again committed last: both rows carry its title.
	rows, err := db.Pool().Query(ctx, `SELECT title FROM apps WHERE id = ANY($1) ORDER BY id`, ids[:])
	if err != nil {
		t.Fatal(err)
	}
	titles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) != 2 || titles[0] != titles[1] {
		t.Errorf("titles %q, want both rows written by the transaction that committed last", titles)
	}
}
