package keygate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// The pieces of verifying a bearer key, the hot path of every request a
// gateway serves: parse, hash, look up, and for GET /api/v1/key the usage.

var benchKey = keygate.NewKey(keygate.DefaultKeyPrefix)

func BenchmarkHashSecret(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		keygate.HashSecret(benchKey)
	}
}

func BenchmarkWellFormedKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !keygate.WellFormedKey(benchKey) {
			b.Fatal("WellFormedKey = false")
		}
	}
}

// storedKey returns a key shaped like one read from the store: every
// string its own allocation.
func storedKey(userID, workspaceID string, now time.Time) (string, *keygate.APIKey) {
	secret := keygate.NewKey(keygate.DefaultKeyPrefix)
	return secret, &keygate.APIKey{
		Hash:          keygate.HashSecret(secret),
		UserID:        strings.Clone(userID),
		WorkspaceID:   strings.Clone(workspaceID),
		Label:         keygate.MaskKey(secret),
		CreatorUserID: strings.Clone(userID),
		CreatedAt:     now,
	}
}

// BenchmarkKeyCacheGet looks up 10,000 cached keys in turn, on one
// goroutine and on all of them at once (the cache is sharded so that
// readers do not share a lock).
func BenchmarkKeyCacheGet(b *testing.B) {
	const n = 10_000
	now := time.Now()
	c := keygate.NewKeyCache(1<<20, time.Minute)
	hashes := make([]string, n)
	for i := range hashes {
		_, k := storedKey(uuid.NewString(), uuid.NewString(), now)
		c.Put(k, now)
		hashes[i] = k.Hash
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := c.Get(hashes[i%n], now); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(7919))
			for pb.Next() {
				if _, ok := c.Get(hashes[i%n], now); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
}

// BenchmarkKeyCacheMemory reports the heap that caching one key costs,
// the key's own strings included: B/key. Each iteration fills a new cache
// with 100,000 keys: of one user, of a user each, and of one user with
// their usage cached too (as after GET /api/v1/key).
func BenchmarkKeyCacheMemory(b *testing.B) {
	const n = 100_000
	userID, workspaceID := uuid.NewString(), uuid.NewString()
	cases := []struct {
		name      string
		owner     func() (string, string)
		withUsage bool
	}{
		{"one-user", func() (string, string) { return userID, workspaceID }, false},
		{"user-per-key", func() (string, string) { return uuid.NewString(), uuid.NewString() }, false},
		{"one-user-with-usage", func() (string, string) { return userID, workspaceID }, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			now := time.Now()
			var perKey float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cache := keygate.NewKeyCache(1<<20, time.Minute)
				for range n {
					u, w := c.owner()
					_, k := storedKey(u, w, now)
					cache.Put(k, now)
					if c.withUsage {
						_, gen, _ := cache.Usage(k.Hash, now)
						cache.PutUsage(k.Hash, keygate.Usage{Total: 1}, now, gen)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perKey = float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(cache)
			}
			b.ReportMetric(perKey, "B/key")
		})
	}
}

// benchService is a Service on a SQLite file holding n keys of one user,
// every one of them cached.
func benchService(b *testing.B, n int) (*keygate.Service, []string) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	u := &keygate.User{ID: uuid.NewString(), Email: "bench@example.com", PasswordHash: "!", CreatedAt: now}
	ws := &keygate.Workspace{ID: uuid.NewString(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: now}
	if err := db.CreateUser(ctx, u, ws); err != nil {
		b.Fatal(err)
	}
	secrets := make([]string, n)
	keys := make([]*keygate.APIKey, n)
	for i := range keys {
		secrets[i], keys[i] = storedKey(u.ID, ws.ID, now)
	}
	if err := db.BulkInsertKeys(ctx, keys); err != nil {
		b.Fatal(err)
	}
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	for _, s := range secrets {
		if _, err := svc.Authenticate(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	return svc, secrets
}

// BenchmarkAuthenticate verifies cached keys: what a gateway pays per
// request.
func BenchmarkAuthenticate(b *testing.B) {
	svc, secrets := benchService(b, 10_000)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := svc.Authenticate(ctx, secrets[i%len(secrets)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(7919))
			for pb.Next() {
				if _, err := svc.Authenticate(ctx, secrets[i%len(secrets)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkKeyInfo is what GET /api/v1/key asks of the service after
// Authenticate: the key's usage in its periods and what is left of its
// limit.
func BenchmarkKeyInfo(b *testing.B) {
	svc, secrets := benchService(b, 1_000)
	ctx := context.Background()
	keys := make([]*keygate.APIKey, len(secrets))
	for i, s := range secrets {
		k, err := svc.Authenticate(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
		if _, err := svc.KeyInfo(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.KeyInfo(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(fmt.Errorf("KeyInfo: %w", err))
		}
		i++
	}
}
