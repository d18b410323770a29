package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/keygate/keygate"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// readerConns is the size of the read pool. Readers never block each other
// or the writer in WAL mode; a few connections cover the handlers that read
// at once without holding many page caches.
const readerConns = 4

// busyTimeoutMS is how long a statement waits for a lock held by another
// process on the same file before failing with SQLITE_BUSY, in milliseconds.
const busyTimeoutMS = 5000

// DB is a keygate.Store on one SQLite file. It is safe for concurrent use.
type DB struct {
	path   string
	writer *sql.DB // exactly one connection; BEGIN IMMEDIATE
	reader *sql.DB // read-only connections
	st     stmts   // the hot statements, prepared once

	writes     chan *writeReq // to the writer goroutine (runWriter)
	writerDone chan struct{}  // closed when the writer goroutine ends
	commits    atomic.Int64   // see WriteCount

	closed    chan struct{} // closed by Close, to stop Listen
	closeOnce sync.Once
}

var _ keygate.Store = (*DB)(nil)

// Open opens (creating it if needed) the SQLite database named by dsn, in
// any form that ParsePath accepts, and applies pending migrations. The
// directory holding the file must exist. Close the DB when done.
func Open(ctx context.Context, dsn string) (*DB, error) {
	path, err := ParsePath(dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{
		path:       path,
		closed:     make(chan struct{}),
		writes:     make(chan *writeReq),
		writerDone: make(chan struct{}),
	}
	// The writer comes first: its first connection switches the file to
	// WAL, which the read-only connections could not do.
	db.writer, err = openPool(ctx, path, false)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.writer.Close()
		return nil, err
	}
	db.reader, err = openPool(ctx, path, true)
	if err != nil {
		db.writer.Close()
		return nil, err
	}
	if err := db.st.prepare(ctx, db.writer, db.reader); err != nil {
		db.reader.Close()
		db.writer.Close()
		return nil, err
	}
	go db.runWriter()
	return db, nil
}

// openPool opens a pool on path: the single-connection writer pool, or the
// read-only pool.
func openPool(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	// _pragma values run on every new connection of the pool, so a
	// connection the pool opens later is set up like the first.
	q := url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(NORMAL)",
	}}
	n := 1
	if readOnly {
		q.Set("_query_only", "1")
		n = readerConns
	} else {
		q.Set("_txlock", "immediate")
	}
	pool, err := sql.Open("sqlite", connString(path, q))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	// Keep connections for the life of the pool: opening one re-runs the
	// pragmas and drops the page cache.
	pool.SetConnMaxLifetime(0)
	pool.SetConnMaxIdleTime(0)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return pool, nil
}

// Path returns the file path of the database.
func (db *DB) Path() string { return db.path }

// Close stops the writer goroutine once its current batch is committed,
// and closes the prepared statements and both pools. The writer closes
// last: the last connection to a WAL database checkpoints it into the main
// file.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closed) })
	<-db.writerDone
	return errors.Join(db.st.close(), db.reader.Close(), db.writer.Close())
}

// read runs fn in a read transaction, so that its statements see one
// snapshot of the database.
func (db *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
