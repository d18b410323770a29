// Package postgres stores keygate's data in PostgreSQL, through pgx and its
// connection pool. Several keygate replicas may share one database: every
// guarantee of the store (single use of a code, no lost usage update, no
// key orphaned by a workspace's deletion) is enforced by the database, with
// unique constraints, foreign keys and conditional updates, never by a lock
// in one process. It owns the PostgreSQL schema, as numbered migrations
// embedded from migrations/*.sql (the same numbers and the same logical
// schema as the sqlite package's), applied by Open under an advisory lock
// so that replicas starting together migrate once.
//
// It imports only the root keygate package, for the domain types, the Store
// interface it implements and the sentinel errors it returns.
//
// Connections. Open takes a postgres:// or postgresql:// URL (or a
// key=value connection string) in any form pgx accepts; pool_max_conns and
// the other pool_* parameters size the pool, and any other parameter that
// pgx does not know, such as search_path, is sent to the server as a
// run-time setting of every connection. Without pool_max_conns the pool
// holds at most DefaultMaxConns connections.
//
// Encoding. Times are timestamptz (microsecond precision; sub-microsecond
// digits are dropped) and are returned as time.Time in UTC. Money is bigint
// micro-dollars (keygate.Micros). Booleans are boolean. App categories are
// a text[]. Optional values are NULL when absent; an empty
// AuthCode.ParentKeyHash, APIKey.ParentHash and a zero AuthCode.AppID are
// stored as NULL. What a Store method returns is the same, to the
// microsecond, as what the sqlite package returns for the same calls.
//
// Invalidation. Every change to a key, a session or an app that another
// replica may hold in a cache announces itself with
// pg_notify('keygate_invalidate', '<kind>:<id>') in the transaction that
// makes it, so the announcement goes out exactly when the change commits.
// DB.Listen delivers the announcements to a replica's caches (see
// notify.go).
//
// The store never reads the clock: every time it writes comes from its
// caller, so tests and the service decide what "now" is.
package postgres
