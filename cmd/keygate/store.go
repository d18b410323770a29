package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// defaultDatabase is a SQLite file in the working directory.
const defaultDatabase = "keygate.db"

// openStore opens the store a --database value names: a postgres:// or
// postgresql:// URL, or a SQLite path (plain, sqlite:// or file:).
func openStore(ctx context.Context, dsn string) (keygate.Store, error) {
	if dsn == "" {
		dsn = defaultDatabase
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	db, err := sqlite.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// openPostgres is replaced when the PostgreSQL adapter is built in.
var openPostgres = func(ctx context.Context, dsn string) (keygate.Store, error) {
	return nil, fmt.Errorf("PostgreSQL is not supported by this build")
}
