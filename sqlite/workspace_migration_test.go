package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// TestWorkspaceSettingsMigration: a workspace stored before the settings
// columns existed reads back, after the migration, with the settings a
// new workspace gets; the migration can be rolled back.
func TestWorkspaceSettingsMigration(t *testing.T) {
	ctx := t.Context()
	path, raw, p := migratedTo(t, 2)
	for _, q := range []string{
		`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'old@example.com', 'h', 1)`,
		`INSERT INTO workspaces (id, user_id, name, slug, is_default, created_at) VALUES ('w1', 'u1', 'Old', 'old', 1, 1)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The migration can be undone, and done again below.
	if _, err := p.UpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatalf("migrating down from 3: %v", err)
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 2 {
		t.Fatalf("version after down = %d, %v; want 2", v, err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w, err := db.Workspace(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	want := keygate.Workspace{
		ID: "w1", UserID: "u1", Name: "Old", Slug: "old", IsDefault: true, CreatedAt: time.UnixMicro(1).UTC(),
		WorkspaceSettings: keygate.WorkspaceSettings{IOLoggingSamplingRate: keygate.DefaultIOLoggingSamplingRate},
	}
	if !reflect.DeepEqual(*w, want) {
		t.Errorf("Workspace(after migration) = %+v, want %+v", *w, want)
	}
}
