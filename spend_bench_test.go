package keygate_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// BenchmarkReserveRelease is the admission of a request in memory, on
// SQLite's balances: one key with a limit (the case with the most work)
// and keys without one, on all goroutines at once.
func BenchmarkReserveRelease(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	u, err := svc.CreateUser(ctx, "bench@example.com", "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	newKey := func(limit *float64) *keygate.APIKey {
		_, k, err := svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "bench", LimitUSD: limit})
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	big := 1e6
	limited := make([]*keygate.APIKey, 64)
	for i := range limited {
		limited[i] = newKey(&big)
	}
	for _, bc := range []struct {
		name string
		keys []*keygate.APIKey
	}{
		{"unlimited", []*keygate.APIKey{newKey(nil)}},
		{"one-limited-key", limited[:1]},
		{"64-limited-keys", limited},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var next atomic.Uint32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				k := bc.keys[int(next.Add(1))%len(bc.keys)]
				for pb.Next() {
					r, err := svc.Reserve(ctx, k, 1_000)
					if err != nil {
						b.Fatal(err)
					}
					r.Release()
				}
			})
		})
	}
}
