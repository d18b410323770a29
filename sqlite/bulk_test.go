package sqlite_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// bulkOwner stores a user with its default workspace for the bulk tests.
func bulkOwner(t *testing.T, db *sqlite.DB) *keygate.Workspace {
	t.Helper()
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	u := &keygate.User{ID: uuid.NewString(), Email: "bulk@example.com", PasswordHash: "x", CreatedAt: t0}
	ws := &keygate.Workspace{ID: uuid.NewString(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: t0}
	if err := db.CreateUser(t.Context(), u, ws); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return ws
}

// bulkKeys returns n unsaved keys of ws with distinct hashes; every third
// has a limit and every fifth an expiry, so optional columns are covered.
func bulkKeys(ws *keygate.Workspace, n int) []*keygate.APIKey {
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	keys := make([]*keygate.APIKey, n)
	for i := range keys {
		k := &keygate.APIKey{
			Hash:          keygate.HashSecret(fmt.Sprintf("bulk-%d", i)),
			UserID:        ws.UserID,
			WorkspaceID:   ws.ID,
			Name:          fmt.Sprintf("key %d", i),
			Label:         fmt.Sprintf("key %d", i),
			CreatorUserID: ws.UserID,
			CreatedAt:     t0.Add(time.Duration(i) * time.Microsecond),
		}
		if i%3 == 0 {
			l := keygate.Micros(i)
			k.Limit, k.LimitReset = &l, keygate.ResetDaily
		}
		if i%5 == 0 {
			e := t0.Add(time.Duration(i) * time.Hour)
			k.ExpiresAt = &e
		}
		keys[i] = k
	}
	return keys
}

func TestBulkInsertKeys(t *testing.T) {
	for _, n := range []int{0, 1, 10_000, 25_001} { // empty, one, one full chunk, three chunks
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db := openTemp(t)
			ws := bulkOwner(t, db)
			keys := bulkKeys(ws, n)
			if err := db.BulkInsertKeys(t.Context(), keys); err != nil {
				t.Fatalf("BulkInsertKeys(%d keys): %v", n, err)
			}
			got, err := db.ListKeys(t.Context(), keygate.KeyFilter{UserID: ws.UserID, IncludeDisabled: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("ListKeys returned %d keys, want %d", len(got), n)
			}
			for _, i := range []int{0, n / 2, n - 1} {
				if n == 0 {
					break
				}
				k, err := db.Key(t.Context(), keys[i].Hash)
				if err != nil {
					t.Fatalf("Key(#%d): %v", i, err)
				}
				if d := cmp.Diff(keys[i], k); d != "" {
					t.Errorf("Key(#%d) differs from what was inserted (-want +got):\n%s", i, d)
				}
			}
		})
	}
}

func TestBulkInsertKeysErrors(t *testing.T) {
	tests := []struct {
		name string
		// keys returns what to insert after keys 0..4 of ws are stored.
		keys func(ws *keygate.Workspace, stored []*keygate.APIKey) []*keygate.APIKey
		want error
	}{
		{"duplicate-of-stored", func(ws *keygate.Workspace, stored []*keygate.APIKey) []*keygate.APIKey {
			return []*keygate.APIKey{stored[2]}
		}, keygate.ErrConflict},
		{"duplicate-in-call", func(ws *keygate.Workspace, _ []*keygate.APIKey) []*keygate.APIKey {
			k := bulkKeys(ws, 6)[5]
			return []*keygate.APIKey{k, k}
		}, keygate.ErrConflict},
		{"unknown-workspace", func(ws *keygate.Workspace, _ []*keygate.APIKey) []*keygate.APIKey {
			k := bulkKeys(ws, 6)[5]
			k.WorkspaceID = uuid.NewString()
			return []*keygate.APIKey{k}
		}, keygate.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTemp(t)
			ws := bulkOwner(t, db)
			stored := bulkKeys(ws, 5)
			if err := db.BulkInsertKeys(t.Context(), stored); err != nil {
				t.Fatal(err)
			}
			err := db.BulkInsertKeys(t.Context(), tt.keys(ws, stored))
			if !errors.Is(err, tt.want) {
				t.Fatalf("BulkInsertKeys = %v, want %v", err, tt.want)
			}
			// The failed chunk left nothing behind.
			got, err := db.ListKeys(t.Context(), keygate.KeyFilter{UserID: ws.UserID, IncludeDisabled: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(stored) {
				t.Errorf("after the failed call the store holds %d keys, want %d", len(got), len(stored))
			}
		})
	}
}
