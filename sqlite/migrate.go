package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/pressly/goose/v3"
)

// migrations holds the schema, one numbered file per change. A released
// migration is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// newMigrator returns a goose provider for the embedded migrations. The
// provider keeps its state to itself (no goose globals), so several DBs
// can migrate at once, and every migration runs in its own transaction
// and is recorded in goose_db_version.
func newMigrator(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true))
}

// Migrate applies the migrations that the database lacks, in order, and
// returns the names of those it applied (none when it was up to date).
// Open calls it; running it again is harmless.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	p, err := newMigrator(db.writer)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	var applied []string
	for _, r := range results {
		applied = append(applied, path.Base(r.Source.Path))
	}
	return applied, nil
}

// SchemaVersion returns the number of the last migration applied to the
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := newMigrator(db.writer)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// errSchemaBehind is the error of OpenReadOnly on a database that lacks
// migrations of this build: it cannot apply them, and the queries of this
// build may need them.
var errSchemaBehind = errors.New("the database needs migrations of this keygate version, which a read-only open cannot apply: run a command that writes (such as keygate serve) once")

// checkSchema returns errSchemaBehind (wrapped, with the versions) when
// the database lacks migrations, reading the version table only.
func (db *DB) checkSchema(ctx context.Context) error {
	p, err := newMigrator(db.reader)
	if err != nil {
		return fmt.Errorf("sqlite: schema version: %w", err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: schema version: %w", err)
	}
	if current < target {
		return fmt.Errorf("sqlite: %s: schema version %d of %d: %w", db.path, current, target, errSchemaBehind)
	}
	return nil
}
