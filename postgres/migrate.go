package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the schema, one numbered file per change, numbered like
// the sqlite package's. A released migration is never edited: a change is
// a new file, in both packages.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the migrations that the schema lacks, in order, each in
// its own transaction and recorded in goose_db_version, and returns the
// names of those it applied (none when it was up to date). Open calls it;
// running it again is harmless, and replicas that run it at once take
// turns: an advisory lock, one per schema, is held while migrating.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	var applied []string
	err := db.withMigrator(ctx, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		for _, r := range results {
			applied = append(applied, path.Base(r.Source.Path))
		}
		return err
	})
	if err != nil {
		return applied, fmt.Errorf("postgres: migrate: %w", err)
	}
	return applied, nil
}

// SchemaVersion returns the number of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.withMigrator(ctx, func(p *goose.Provider) error {
		var err error
		v, err = p.GetDBVersion(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// withMigrator runs fn with a goose provider for the embedded migrations
// over a database/sql view of the pool. The provider keeps its state to
// itself (no goose globals), so several DBs can migrate at once.
func (db *DB) withMigrator(ctx context.Context, fn func(*goose.Provider) error) error {
	var schema *string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errors.New("search_path names no existing schema: create the schema first")
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(schemaLock(*schema)))
	if err != nil {
		return err
	}
	return fn(p)
}

// schemaLock is a session-level advisory lock named after the schema, so
// that replicas migrating one schema take turns while migrations of
// different schemas (tests, or tenants sharing a server) do not wait for
// each other. pg_advisory_lock blocks until the lock is free, or until ctx
// ends and pgx cancels the statement.
type schemaLock string

var _ lock.SessionLocker = schemaLock("")

// lockID derives the lock's 64-bit key from the schema name; the prefix
// keeps it apart from advisory locks that other software takes.
func (s schemaLock) lockID() int64 {
	h := fnv.New64a()
	h.Write([]byte("keygate migrations\x00" + string(s)))
	return int64(h.Sum64())
}

func (s schemaLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, s.lockID())
	return err
}

func (s schemaLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, s.lockID())
	return err
}
