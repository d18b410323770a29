package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

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

// Defaults of the read tuning (Option), chosen from docs/benchmarks.md
// ("Cold keys"): with a million keys (a file of about 500 MB) and uniform
// traffic, a key cache miss costs the least when the whole file is mapped.
const (
	// DefaultMmapSize is how much of the file is read through
	// memory-mapped I/O, in bytes: 1 GiB.
	DefaultMmapSize = 1 << 30
	// DefaultCacheSize is each connection's page cache, in bytes: 8 MiB.
	DefaultCacheSize = 8 << 20
)

// Option tunes the connections of a DB opened by Open.
type Option func(*options)

type options struct {
	mmapSize, cacheSize int64
	noJournal           bool
	journalDelay        time.Duration // 0: journalDelay
	journalMax          int           // 0: journalMax
}

// WithChargeJournal turns the charge journal on (the default) or off.
// With it, a charge is acknowledged once its record is appended to a file
// beside the database and committed in a batch soon after, replayed by the
// next Open if the process dies first (journal.go); without it, a charge
// is acknowledged after its own commit, shared with the charges that came
// at the same time.
func WithChargeJournal(on bool) Option { return func(o *options) { o.noJournal = !on } }

// WithMmapSize sets PRAGMA mmap_size on every connection: SQLite reads the
// first n bytes of the file through memory-mapped I/O, straight from the
// operating system's page cache, instead of copying each page it needs
// into its own cache with a read system call. 0 turns it off. Mapped
// pages count in the process's resident memory as file pages the system
// can reclaim. SQLite caps n at 2 GiB in this build.
func WithMmapSize(n int64) Option { return func(o *options) { o.mmapSize = max(n, 0) } }

// WithCacheSize sets the page cache of every connection (PRAGMA
// cache_size) to n bytes, at least 64 KiB. In WAL mode a connection's
// cache is emptied whenever another connection has committed since its
// last read, so a bigger cache pays off only between writes.
func WithCacheSize(n int64) Option { return func(o *options) { o.cacheSize = max(n, 64<<10) } }

// DB is a keygate.Store on one SQLite file. It is safe for concurrent use.
type DB struct {
	path   string
	writer *sql.DB // exactly one connection; BEGIN IMMEDIATE
	reader *sql.DB // read-only connections
	st     stmts   // the hot statements, prepared once

	writes  chan *writeReq // to the writer goroutine (runWriter)
	journal *journal       // nil: charges commit before RecordGeneration returns
	// journalDelay is how long a journaled charge waits at most for its
	// commit (the constant journalDelay, but in tests).
	journalDelay time.Duration
	writerDone   chan struct{} // closed when the writer goroutine ends
	commits      atomic.Int64  // see WriteCount

	checkpointer     *sql.DB       // one connection, for runCheckpointer
	checkpointerDone chan struct{} // closed when runCheckpointer ends

	closed    chan struct{} // closed by Close, to stop Listen
	closeOnce sync.Once
}

var _ keygate.Store = (*DB)(nil)

// Open opens (creating it if needed) the SQLite database named by dsn, in
// any form that ParsePath accepts, and applies pending migrations. The
// directory holding the file must exist. A database that cannot be opened
// is an error that says why in words (see explainOpen). Close the DB when
// done.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	path, err := ParsePath(dsn)
	if err != nil {
		return nil, err
	}
	o := options{mmapSize: DefaultMmapSize, cacheSize: DefaultCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	db := newDB(path)
	// The writer comes first: its first connection switches the file to
	// WAL, which the read-only connections could not do.
	db.writer, err = openPool(ctx, path, poolWriter, o)
	if err != nil {
		return nil, explainOpen(path, false, err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.writer.Close()
		return nil, explainOpen(path, false, err)
	}
	db.reader, err = openPool(ctx, path, poolReader, o)
	if err != nil {
		db.writer.Close()
		return nil, err
	}
	db.checkpointer, err = openPool(ctx, path, poolCheckpointer, o)
	if err != nil {
		db.reader.Close()
		db.writer.Close()
		return nil, err
	}
	if err := db.st.prepare(ctx, db.writer, db.reader); err != nil {
		db.checkpointer.Close()
		db.reader.Close()
		db.writer.Close()
		return nil, err
	}
	// Without the journal, what a process with it left is replayed all
	// the same, and the journal closed.
	if db.journal, err = db.openJournal(ctx); err != nil {
		db.st.close()
		db.checkpointer.Close()
		db.reader.Close()
		db.writer.Close()
		return nil, err
	}
	if o.noJournal && db.journal != nil {
		db.journal.close()
		db.journal = nil
	}
	db.journalDelay = cmp.Or(o.journalDelay, journalDelay)
	if db.journal != nil {
		db.journal.max = cmp.Or(o.journalMax, journalMax)
	}
	go db.runWriter()
	go db.runCheckpointer()
	return db, nil
}

// ErrReadOnly is the error of every write to a DB opened by OpenReadOnly.
var ErrReadOnly = errors.New("sqlite: the database was opened read-only")

// OpenReadOnly opens the existing SQLite database named by dsn for reading
// only, so that it works on a file (or in a directory) this user may not
// write: it creates nothing, applies no migration and every write returns
// ErrReadOnly. The database must exist and be at the schema version this
// build migrates to. When SQLite cannot open the file read-only in the
// ordinary way (a WAL database whose -shm file is absent and cannot be
// created, in a directory this user may not write), it is opened as
// immutable: reads then do not see writes that another process makes
// while the DB is open, which suits a command that reads once and exits.
func OpenReadOnly(ctx context.Context, dsn string) (*DB, error) {
	path, err := ParsePath(dsn)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, explainOpen(path, true, err)
	}
	db := newDB(path)
	for _, kind := range []poolKind{poolReadOnlyFile, poolImmutableFile} {
		if db.reader, err = openPool(ctx, path, kind, options{}); err == nil {
			if err = db.checkSchema(ctx); err == nil {
				break
			}
			db.reader.Close()
			if errors.Is(err, errSchemaBehind) {
				return nil, err
			}
		}
	}
	if err != nil {
		return nil, explainOpen(path, true, err)
	}
	if err := db.st.prepare(ctx, nil, db.reader); err != nil {
		db.reader.Close()
		return nil, err
	}
	close(db.writerDone) // there is no writer goroutine
	close(db.checkpointerDone)
	return db, nil
}

func newDB(path string) *DB {
	return &DB{
		path:       path,
		closed:     make(chan struct{}),
		writes:     make(chan *writeReq),
		writerDone: make(chan struct{}),

		checkpointerDone: make(chan struct{}),
	}
}

// poolKind is which of its pools a DB opens.
type poolKind int

const (
	poolWriter        poolKind = iota // the single writer connection
	poolReader                        // read-only connections beside the writer
	poolCheckpointer                  // one connection that checkpoints the WAL
	poolReadOnlyFile                  // OpenReadOnly: mode=ro, nothing written
	poolImmutableFile                 // OpenReadOnly's fallback: immutable=1
)

// openPool opens a pool of kind on path, its connections tuned by o (the
// zero options leave SQLite's defaults).
func openPool(ctx context.Context, path string, kind poolKind, o options) (*sql.DB, error) {
	// _pragma values run on every new connection of the pool, so a
	// connection the pool opens later is set up like the first.
	q := url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS),
		"foreign_keys(1)",
	}}
	if o.mmapSize > 0 {
		q["_pragma"] = append(q["_pragma"], fmt.Sprintf("mmap_size(%d)", o.mmapSize))
	}
	if o.cacheSize > 0 {
		// A negative cache_size is in KiB.
		q["_pragma"] = append(q["_pragma"], fmt.Sprintf("cache_size(%d)", -o.cacheSize>>10))
	}
	n := readerConns
	switch kind {
	case poolWriter:
		// NORMAL (on the readers too, so that every connection of the
		// file agrees): in WAL mode a commit is in the operating system's
		// hands when it returns, so what a caller was told is stored (a
		// charge, a minted key) survives the process being killed; the
		// WAL is synced at checkpoints, so a power loss can take the
		// commits since the last one, never the file's consistency.
		// FULL would sync every commit and double a lone settlement's
		// latency (docs/spending.md).
		//
		// temp_store MEMORY keeps statement journals in memory: a
		// multi-row statement inside a transaction (a batch of charges)
		// journals the pages it changes so that it can be undone alone,
		// and that journal would otherwise spill to a temporary file past
		// 64 KiB, a pwrite per page.
		//
		// wal_autocheckpoint 0: the commit that takes the WAL past 1,000
		// pages no longer copies it into the file (and syncs both) on
		// the writer's time; runCheckpointer does, on a connection of its
		// own.
		q["_pragma"] = append(q["_pragma"], "journal_mode(WAL)", "synchronous(NORMAL)", "temp_store(MEMORY)", "wal_autocheckpoint(0)")
		q.Set("_txlock", "immediate")
		n = 1
	case poolCheckpointer:
		q["_pragma"] = append(q["_pragma"], "journal_mode(WAL)", "synchronous(NORMAL)", "wal_autocheckpoint(0)")
		n = 1
	case poolReader:
		q["_pragma"] = append(q["_pragma"], "journal_mode(WAL)", "synchronous(NORMAL)")
		q.Set("_query_only", "1")
	case poolReadOnlyFile:
		q.Set("mode", "ro")
		q.Set("_query_only", "1")
	case poolImmutableFile:
		q.Set("mode", "ro")
		q.Set("immutable", "1")
		q.Set("_query_only", "1")
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
	<-db.checkpointerDone
	if db.journal != nil {
		db.journal.close()
	}
	err := errors.Join(db.st.close(), db.reader.Close())
	if db.checkpointer != nil {
		err = errors.Join(err, db.checkpointer.Close())
	}
	if db.writer != nil {
		err = errors.Join(err, db.writer.Close())
	}
	return err
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
