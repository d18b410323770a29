package keygate_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// upsertCounter is a real store that counts the app upserts made through
// it.
type upsertCounter struct {
	keygate.Store
	n atomic.Int32
}

func (s *upsertCounter) UpsertApp(ctx context.Context, a *keygate.App) (*keygate.App, error) {
	s.n.Add(1)
	return s.Store.UpsertApp(ctx, a)
}

// TestAttributeApp: a metered request is attributed to the app of its own
// headers, else to the key's; an app is written once per new set of
// headers, not once per request.
func TestAttributeApp(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &upsertCounter{Store: db}
	svc := keygate.NewService(store, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	keyApp, err := db.UpsertApp(ctx, &keygate.App{URL: "https://minted.example", Title: "Minted"})
	if err != nil {
		t.Fatal(err)
	}
	withApp := &keygate.APIKey{Hash: "k1", AppID: &keyApp.ID}
	without := &keygate.APIKey{Hash: "k2"}

	tests := []struct {
		name      string
		k         *keygate.APIKey
		a         keygate.Attribution
		wantApp   string // URL of the app attributed; "" for none
		wantTitle string
		wantCats  []string
		upserts   int32 // at most, for the first request
	}{
		{"no-headers-key-app", withApp, keygate.Attribution{}, "https://minted.example", "Minted", nil, 0},
		{"no-headers-no-app", without, keygate.Attribution{}, "", "", nil, 0},
		// A title or categories without a referer name no app: the key's
		// app is charged and keeps its own title.
		{"title-without-referer", withApp, keygate.Attribution{Title: "Renamed", Categories: "game"}, "https://minted.example", "Minted", nil, 0},
		{"bad-referer", withApp, keygate.Attribution{Referer: "not a url"}, "https://minted.example", "Minted", nil, 0},
		{"referer", withApp, keygate.Attribution{Referer: "HTTPS://Chat.Example.com:443/app/?q=1#x"}, "https://chat.example.com/app", "chat.example.com", nil, 2},
		{"title-and-categories", without, keygate.Attribution{Referer: "https://chat.example.com/app", Title: "Chat", Categories: "Coding, chat,coding,bad_one"}, "https://chat.example.com/app", "Chat", []string{"coding", "chat"}, 1},
		// A request without a title never overwrites the stored one.
		{"no-title-keeps", without, keygate.Attribution{Referer: "https://chat.example.com/app"}, "https://chat.example.com/app", "Chat", []string{"coding", "chat"}, 0},
		{"loopback", without, keygate.Attribution{Referer: "http://localhost:3000/", Title: "Mine"}, "http://localhost:3000", "localhost:3000", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.n.Load()
			var first *int64
			for i := range 100 {
				id, err := svc.AttributeApp(ctx, tt.k, tt.a)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = id
				} else if (id == nil) != (first == nil) || id != nil && *id != *first {
					t.Fatalf("request %d attributed to %v, the first to %v", i, id, first)
				}
			}
			if n := store.n.Load() - before; n > tt.upserts {
				t.Errorf("100 requests made %d app upserts, want at most %d", n, tt.upserts)
			}
			if tt.wantApp == "" {
				if first != nil {
					t.Errorf("attributed to app %d, want none", *first)
				}
				return
			}
			if first == nil {
				t.Fatal("attributed to no app")
			}
			app, err := db.App(ctx, *first)
			if err != nil {
				t.Fatal(err)
			}
			if app.URL != tt.wantApp || app.Title != tt.wantTitle || !slices.Equal(app.Categories, tt.wantCats) {
				t.Errorf("app = %q %q %v, want %q %q %v", app.URL, app.Title, app.Categories, tt.wantApp, tt.wantTitle, tt.wantCats)
			}
		})
	}
}
