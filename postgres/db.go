package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keygate/keygate"
)

// DefaultMaxConns is the size of the pool when the URL does not set
// pool_max_conns. Each replica holds up to this many connections (plus one
// for Listen): size max_connections on the server for every replica.
const DefaultMaxConns = 10

// DB is a keygate.Store on one PostgreSQL database (or one schema of it,
// chosen with search_path). It is safe for concurrent use, and any number
// of DBs, in one process or many, may share the database.
type DB struct {
	pool *pgxpool.Pool

	charges     chan *chargeReq // to the charger goroutine (runCharger)
	chargerDone chan struct{}   // closed when the charger goroutine ends
	closed      chan struct{}   // closed by Close
	closeOnce   sync.Once
	writes      atomic.Int64 // see WriteCount
}

var _ keygate.Store = (*DB)(nil)

// Open connects to the database named by url (see the package
// documentation for its forms and parameters), checks that it answers, and
// applies pending migrations. Close the DB when done.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, charges: make(chan *chargeReq), chargerDone: make(chan struct{}), closed: make(chan struct{})}
	if _, err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	go db.runCharger()
	return db, nil
}

// poolConfig parses url into a pool configuration with keygate's defaults.
func poolConfig(url string) (*pgxpool.Config, error) {
	// pgxpool takes pool_max_conns out of the connection settings; pgx
	// alone leaves it there, which tells whether the URL set it.
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	_, sized := cc.RuntimeParams["pool_max_conns"]
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if !sized {
		cfg.MaxConns = DefaultMaxConns
	}
	// Replicas behind a load balancer come and go; so may the database
	// behind a proxy. A connection is checked when it has idled a while
	// rather than on every use.
	cfg.HealthCheckPeriod = 30 * time.Second
	return cfg, nil
}

// Pool returns the connection pool, for tests and tools that need to run
// their own statements.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close stops the charger once its current batch is committed, and closes
// the pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closed) })
	<-db.chargerDone
	db.pool.Close()
	return nil
}

// SQLSTATE codes of the transactions that tx runs again (PostgreSQL
// documentation, Appendix A).
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// txAttempts is how many times tx runs a transaction that PostgreSQL
// aborts to break a deadlock or a serialization failure.
const txAttempts = 3

// txRetryDelay is the mean wait before tx runs an aborted transaction again;
// each wait is drawn from [0.5, 1.5) times this, doubled for each attempt,
// so that two transactions that deadlocked do not meet again in step.
const txRetryDelay = 2 * time.Millisecond

// tx runs fn in a transaction (READ COMMITTED, PostgreSQL's default) and
// commits if fn returns nil; otherwise it rolls back and returns fn's
// error.
//
// When PostgreSQL aborts the transaction with a deadlock (SQLSTATE 40P01)
// or a serialization failure (40001), in fn or at the commit, nothing of
// it is stored, and tx runs fn again in a new transaction, up to
// txAttempts times in all, after a short random wait, while ctx allows: the
// transaction that lost a deadlock then usually finds the other one
// committed and decides on what it left. So fn must be safe to run again:
// it builds its statements from its arguments and sets whatever it reports
// to its caller afresh on each run. The error of the last attempt is
// returned.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tx1(ctx, fn)
		if err == nil || attempt == txAttempts || !retryable(err) {
			return err
		}
		d := txRetryDelay << (attempt - 1)
		d = d/2 + rand.N(d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// tx1 is one attempt of tx.
func (db *DB) tx1(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(ctx, tx))
	}
	return tx.Commit(ctx)
}

// retryable reports whether err is PostgreSQL aborting a transaction that
// may succeed when run again: a deadlock or a serialization failure.
func retryable(err error) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (pe.Code == deadlockDetected || pe.Code == serializationFailure)
}

// rollback rolls tx back; a failure to do so is only worth reporting when
// the connection is not already gone with the context.
func rollback(ctx context.Context, tx pgx.Tx) error {
	err := tx.Rollback(context.WithoutCancel(ctx))
	if err == nil || errors.Is(err, pgx.ErrTxClosed) || ctx.Err() != nil {
		return nil
	}
	return err
}
