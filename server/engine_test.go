package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/sqlite"
)

// testEngine is the store the HTTP tests run on, from KEYGATE_TEST_ENGINE:
// "sqlite" (the default) or "postgres" (a fresh schema per test in the
// database of KEYGATE_TEST_POSTGRES). CI runs this package once on each.
var testEngine = os.Getenv("KEYGATE_TEST_ENGINE")

// openTestStore opens an empty store on testEngine, closed when t ends.
func openTestStore(t *testing.T) keygate.Store {
	t.Helper()
	switch testEngine {
	case "", "sqlite":
		// A file, never ":memory:": each pooled connection would see a
		// database of its own.
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	case "postgres":
		return pgtest.Open(t)
	}
	t.Fatalf("KEYGATE_TEST_ENGINE=%q: want sqlite or postgres", testEngine)
	return nil
}
