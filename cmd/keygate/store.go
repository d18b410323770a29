package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// defaultDatabase is a SQLite file in the working directory.
const defaultDatabase = "keygate.db"

// urlScheme matches the scheme of a URL-shaped --database value (RFC 3986
// §3.1 followed by "://").
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// openStore opens the store a --database value names: a postgres:// or
// postgresql:// URL, or a SQLite path (plain, sqlite:// or file:). Any
// other scheme:// is refused by name rather than taken for a file path.
func openStore(ctx context.Context, dsn string, opts ...sqlite.Option) (keygate.Store, error) {
	return openStoreMode(ctx, dsn, false, opts...)
}

// openStoreMode is openStore, or, when readOnly, for commands that only
// read: a SQLite file is then opened for reading only
// (sqlite.OpenReadOnly), so that they work on a file this user may not
// write. opts tune a SQLite file opened for writing.
func openStoreMode(ctx context.Context, dsn string, readOnly bool, opts ...sqlite.Option) (keygate.Store, error) {
	if dsn == "" {
		dsn = defaultDatabase
	}
	if m := urlScheme.FindStringSubmatch(dsn); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			return openPostgres(ctx, dsn)
		case "sqlite", "file":
		default:
			return nil, fmt.Errorf("open database: unknown URL scheme %q: --database takes a SQLite file path, sqlite:///abs/path.db, or a postgres:// URL", m[1])
		}
	}
	var db *sqlite.DB
	var err error
	if readOnly {
		db, err = sqlite.OpenReadOnly(ctx, dsn)
	} else {
		db, err = sqlite.Open(ctx, dsn, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// openPostgres is replaced when the PostgreSQL adapter is built in.
var openPostgres = func(ctx context.Context, dsn string) (keygate.Store, error) {
	return nil, fmt.Errorf("PostgreSQL is not supported by this build")
}
