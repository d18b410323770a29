package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// TestOpenReadOnly: a DB opened read-only reads what was written, refuses
// every write with ErrReadOnly, and leaves no file behind it; a database
// that lacks migrations or does not exist is refused in words.
func TestOpenReadOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keygate.db")
	rw, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	u := &keygate.User{ID: "11111111-1111-4111-8111-111111111111", Email: "a@example.com", PasswordHash: "h", CreatedAt: now}
	ws := &keygate.Workspace{ID: "22222222-2222-4222-8222-222222222222", Name: "Default", Slug: "default", CreatedAt: now}
	if err := rw.CreateUser(ctx, u, ws); err != nil {
		t.Fatal(err)
	}
	rw.Close()

	ro, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly = %v", err)
	}
	if got, err := ro.UserByEmail(ctx, "a@example.com"); err != nil || got.ID != u.ID {
		t.Errorf("UserByEmail = %+v, %v; want the user", got, err)
	}
	other := &keygate.User{ID: "33333333-3333-4333-8333-333333333333", Email: "b@example.com", PasswordHash: "h", CreatedAt: now}
	if err := ro.CreateUser(ctx, other, &keygate.Workspace{ID: "44444444-4444-4444-8444-444444444444", Name: "Default", Slug: "default", CreatedAt: now}); !errors.Is(err, sqlite.ErrReadOnly) {
		t.Errorf("CreateUser on a read-only DB = %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}

	t.Run("missing-file", func(t *testing.T) {
		_, err := sqlite.OpenReadOnly(ctx, filepath.Join(t.TempDir(), "none.db"))
		if err == nil || !strings.Contains(err.Error(), "the file does not exist") {
			t.Errorf("OpenReadOnly(missing) = %v, want it to say the file does not exist", err)
		}
	})
	t.Run("schema-behind", func(t *testing.T) {
		old := filepath.Join(t.TempDir(), "old.db")
		raw, err := sql.Open("sqlite", old)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')));
			INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1)`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		_, err = sqlite.OpenReadOnly(ctx, old)
		if err == nil || !strings.Contains(err.Error(), "needs migrations") {
			t.Errorf("OpenReadOnly(old schema) = %v, want it to say migrations are needed", err)
		}
	})
}
