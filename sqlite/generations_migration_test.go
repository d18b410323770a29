package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// TestGenerationsMigration: usage events stored before generations existed
// become generations, with the key's user and workspace when the key
// exists, and the migration can be rolled back (the events come back,
// numbered afresh) and done again.
func TestGenerationsMigration(t *testing.T) {
	ctx := t.Context()
	path, raw, p := migratedTo(t, 4)
	for _, q := range []string{
		`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'old@example.com', 'h', 1)`,
		`INSERT INTO workspaces (id, user_id, name, slug, is_default, created_at) VALUES ('w1', 'u1', 'Old', 'old', 1, 1)`,
		`INSERT INTO api_keys (hash, user_id, workspace_id, name, label, created_at) VALUES ('k1', 'u1', 'w1', 'k', 'k', 1)`,
		`INSERT INTO usage_events (id, key_hash, app_id, model, prompt_tokens, completion_tokens, cost_micros, byok, created_at)
			VALUES (7, 'k1', NULL, 'm', 10, 20, 35, 0, 2), (8, 'gone', NULL, 'm', 1, 1, 5, 1, 3)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatalf("migrating down from 5: %v", err)
	}
	var events int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM usage_events`).Scan(&events); err != nil || events != 2 {
		t.Fatalf("usage events after down = %d, %v; want 2", events, err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tests := []struct {
		id   string
		want keygate.Generation
	}{
		{"usage-1", keygate.Generation{ID: "usage-1", KeyHash: "k1", UserID: "u1", WorkspaceID: "w1", Model: "m", UpstreamModel: "m",
			PromptTokens: 10, CompletionTokens: 20, Cost: 35, CreatedAt: time.UnixMicro(2).UTC()}},
		{"usage-2", keygate.Generation{ID: "usage-2", KeyHash: "gone", Model: "m", UpstreamModel: "m",
			PromptTokens: 1, CompletionTokens: 1, Cost: 5, BYOK: true, CreatedAt: time.UnixMicro(3).UTC()}},
	}
	for _, tt := range tests {
		g, err := db.Generation(ctx, tt.id)
		if err != nil {
			t.Fatalf("Generation(%s): %v", tt.id, err)
		}
		if !reflect.DeepEqual(*g, tt.want) {
			t.Errorf("Generation(%s) = %+v, want %+v", tt.id, *g, tt.want)
		}
	}
}
