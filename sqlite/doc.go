// Package sqlite stores keygate's data in one embedded SQLite file, through
// the pure-Go driver modernc.org/sqlite (no cgo). It owns the SQLite schema,
// as numbered migrations embedded from migrations/*.sql and applied by Open.
//
// It imports only the root keygate package, for the domain types, the Store
// interface it implements and the sentinel errors it returns.
//
// Connections. Writes go through a pool of exactly one connection, so the
// writers of this process queue in Go rather than fight over SQLite's lock,
// and every write transaction starts with BEGIN IMMEDIATE, so it takes the
// write lock up front instead of failing to upgrade a read lock later.
// One goroutine owns that connection and commits the writes that queued
// while it was busy in one transaction, each in a savepoint of its own
// (group commit, see writer.go): a caller returns once its writes are
// committed, as before, but the file sees one commit for many writes.
// The statements of the hot paths are prepared once (stmt.go).
// Reads go through a separate pool of read-only connections that, in WAL
// mode, never wait for the writer. Every connection sets journal_mode=WAL,
// busy_timeout=5000 (ms, for other processes on the same file),
// foreign_keys=ON and synchronous=NORMAL (a commit survives the process
// being killed; the WAL is synced at checkpoints).
//
// Encoding. Times are stored as INTEGER unix microseconds and returned as
// time.Time in UTC (sub-microsecond precision is dropped). Money is INTEGER
// micro-dollars (keygate.Micros). Booleans are INTEGER 0 or 1. App
// categories are a JSON array of strings. Optional values are NULL when
// absent; an empty AuthCode.ParentKeyHash, APIKey.ParentHash and a zero
// AuthCode.AppID are stored as NULL.
//
// Announcements. Every change to a key, a session or an app that a process
// may hold in a cache adds a row to the changes table in the transaction
// that makes it, so another process on the same file (a running server,
// while the CLI disables a key) hears of it: DB.Listen polls the table and
// implements keygate.ChangeFeed as the postgres package's LISTEN does (see
// changes.go).
//
// The store never reads the clock: every time it writes comes from its
// caller, so tests and the service decide what "now" is.
package sqlite
