package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/storetest"
)

// openTemp opens a new database file in a temporary directory: a file,
// never ":memory:", because each pooled connection to ":memory:" would
// see a database of its own.
func openTemp(t *testing.T) *sqlite.DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "keygate.db"))
}

func openAt(t *testing.T, dsn string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keygate.Store { return openTemp(t) })
}

// TestConnectionPragmas checks every connection of both pools, not just the
// first: the pools open more connections under load.
func TestConnectionPragmas(t *testing.T) {
	db := openTemp(t)
	writer, reader := sqlite.Pools(db)
	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL
		// The read tuning's defaults: 1 GiB mapped, 8 MiB (in KiB, negative) of page cache.
		"mmap_size":  "1073741824",
		"cache_size": "-8192",
	}
	check := func(pool string, conn *sql.Conn, queryOnly string) {
		t.Helper()
		for name, w := range want {
			var got string
			if err := conn.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, name, err)
			}
			if got != w {
				t.Errorf("%s: PRAGMA %s = %q, want %q", pool, name, got, w)
			}
		}
		var got string
		if err := conn.QueryRowContext(t.Context(), "PRAGMA query_only").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != queryOnly {
			t.Errorf("%s: PRAGMA query_only = %q, want %q", pool, got, queryOnly)
		}
	}
	wc, err := writer.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	check("writer", wc, "0")
	// Statement journals of the writer's batches stay in memory.
	var tempStore string
	if err := wc.QueryRowContext(t.Context(), "PRAGMA temp_store").Scan(&tempStore); err != nil || tempStore != "2" {
		t.Errorf("writer: PRAGMA temp_store = %q (%v), want %q (MEMORY)", tempStore, err, "2")
	}
	wc.Close()

	// Hold every reader connection at once so that each is a distinct one.
	var conns []*sql.Conn
	for range 4 {
		c, err := reader.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		check("reader", c, "1")
	}
	if _, err := conns[0].ExecContext(t.Context(), `DELETE FROM users`); err == nil {
		t.Errorf("a write through the reader pool succeeded, want an error")
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestReadTuning: the options of Open reach every connection.
func TestReadTuning(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"),
		sqlite.WithMmapSize(0), sqlite.WithCacheSize(32<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writer, reader := sqlite.Pools(db)
	for name, pool := range map[string]*sql.DB{"writer": writer, "reader": reader} {
		var mmap, cache int64
		if err := pool.QueryRowContext(t.Context(), "PRAGMA mmap_size").Scan(&mmap); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&cache); err != nil {
			t.Fatal(err)
		}
		if mmap != 0 || cache != -32<<10 {
			t.Errorf("%s: mmap_size %d, cache_size %d; want 0 and -32768 (KiB)", name, mmap, cache)
		}
	}
}

// TestReopen checks that migrations are recorded and not re-applied, and
// that the data survives a close.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	ctx := t.Context()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u := &keygate.User{ID: "u1", Email: "a@example.com", PasswordHash: "h", CreatedAt: time.Unix(1, 0)}
	ws := &keygate.Workspace{ID: "w1", Name: "Default", Slug: "default", CreatedAt: time.Unix(1, 0)}
	if err := db.CreateUser(ctx, u, ws); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path)
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate(on reopen) = %v, %v; want nothing applied", applied, err)
	}
	v, err := db.SchemaVersion(ctx)
	if latest := storetest.LatestMigration(t, "migrations"); err != nil || v != latest {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, latest)
	}
	if _, err := db.User(ctx, "u1"); err != nil {
		t.Errorf("User(after reopen) = %v", err)
	}
}

func TestMigrateFresh(t *testing.T) {
	db := openTemp(t)
	// Open applied everything; the embedded list is what a fresh file gets.
	v, err := db.SchemaVersion(t.Context())
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want >= 1", v, err)
	}
	writer, _ := sqlite.Pools(db)
	rows, err := writer.QueryContext(t.Context(),
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	want := []string{"account_links", "api_keys", "app_usage_daily", "apps", "audit_events", "auth_codes", "changes",
		"credit_grants", "federation_policies", "federation_subject_tokens", "generations", "goose_db_version",
		"guardrail_keys", "guardrails", "identities", "service_tokens", "sessions", "signing_keys", "usage_counters",
		"user_usage_daily", "users", "workspace_budgets", "workspaces"}
	if !slices.Equal(tables, want) {
		t.Errorf("tables = %v, want %v", tables, want)
	}
}

func TestOpenDSNForms(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, dsn, file string
	}{
		{"Plain", "plain.db", "plain.db"},
		{"SQLiteRelative", "sqlite://rel.db", "rel.db"},
		{"SQLiteAbsolute", "sqlite://" + filepath.Join(dir, "abs.db"), "abs.db"},
		{"FileURI", "file://" + filepath.Join(dir, "uri.db"), "uri.db"},
		{"FileRelative", "file:frel.db", "frel.db"},
		// Characters that mean something in a URI stay part of the name.
		{"OddName", filepath.Join(dir, "a b?c#d%e&_pragma=x.db"), "a b?c#d%e&_pragma=x.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			openAt(t, tt.dsn)
			if _, err := os.Stat(filepath.Join(dir, tt.file)); err != nil {
				t.Errorf("Open(%q) did not create %s: %v", tt.dsn, tt.file, err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for _, dsn := range []string{"", ":memory:", "file::memory:", "sqlite://", "file:x.db?mode=memory",
		filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if db, err := sqlite.Open(t.Context(), dsn); err == nil {
			db.Close()
			t.Errorf("Open(%q) = nil error, want an error", dsn)
		}
	}
}
