package keygate_test

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/keygate/keygate"
)

func TestKeyCacheTTL(t *testing.T) {
	const ttl = 30 * time.Second
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Duration // after the put
		hit  bool
	}{
		{"same-instant", 0, true},
		{"just-before-ttl", ttl - time.Nanosecond, true},
		{"at-ttl", ttl, false},
		{"long-after", time.Hour, false},
		// A clock set back (tests stand on period boundaries) does not
		// make an entry expire.
		{"clock-set-back", -time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := keygate.NewKeyCache(1024, ttl)
			_, k := storedKey("u", "w", t0)
			c.Put(k, t0)
			got, ok := c.Get(k.Hash, t0.Add(tt.at))
			if ok != tt.hit || (ok && got != k) {
				t.Fatalf("Get at put+%v = %v, %v; want hit=%v", tt.at, got, ok, tt.hit)
			}
		})
	}
}

func TestKeyCacheBounded(t *testing.T) {
	const size = 128
	t0 := time.Now()
	c := keygate.NewKeyCache(size, time.Minute)
	for range 10 * size {
		_, k := storedKey("u", "w", t0)
		c.Put(k, t0)
	}
	if n := c.Len(); n > size {
		t.Fatalf("after %d puts the cache holds %d entries, want at most %d", 10*size, n, size)
	}
}

// TestKeyCacheSharesCreator: a key created by its owner keeps one copy of
// the user id, and reads back unchanged.
func TestKeyCacheSharesCreator(t *testing.T) {
	t0 := time.Now()
	c := keygate.NewKeyCache(1024, time.Minute)
	_, k := storedKey("8f2c0e4a-6b1d-4c7e-9f6a-2d5b9e0c1a7f", "w", t0)
	c.Put(k, t0)
	got, ok := c.Get(k.Hash, t0)
	if !ok {
		t.Fatal("miss")
	}
	if got.CreatorUserID != got.UserID || unsafe.StringData(got.CreatorUserID) != unsafe.StringData(got.UserID) {
		t.Errorf("CreatorUserID %q is a copy of UserID %q, want the same string", got.CreatorUserID, got.UserID)
	}
}

// TestKeyCacheReadRacingInvalidation: a key read from the store before an
// invalidation must not be cached after it, or a disabled key would keep
// working until the TTL ran out.
func TestKeyCacheReadRacingInvalidation(t *testing.T) {
	t0 := time.Now()
	c := keygate.NewKeyCache(1024, time.Minute)
	_, stale := storedKey("u", "w", t0)
	_, gen, _ := c.Lookup(stale.Hash, t0) // a reader misses and goes to the store
	c.Delete(stale.Hash)                  // meanwhile the key is disabled
	c.PutAfter(stale, t0, gen)            // the reader's old row comes back
	if got, ok := c.Get(stale.Hash, t0); ok {
		t.Fatalf("Get after a racing invalidation = %+v, want a miss", got)
	}
	_, gen, _ = c.Lookup(stale.Hash, t0)
	c.PutAfter(stale, t0, gen)
	if _, ok := c.Get(stale.Hash, t0); !ok {
		t.Fatal("a read after the invalidation was not cached")
	}
}

// TestKeyCacheKeepsFields: a cached key reads back field for field as it
// was stored, whatever the cache does with its strings.
func TestKeyCacheKeepsFields(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	app, limit, ext := int64(7), keygate.Micros(2_500_000), "customer-42"
	exp, upd := t0.Add(24*time.Hour), t0.Add(time.Minute)
	tests := []struct {
		name string
		key  keygate.APIKey
	}{
		{"minimal", keygate.APIKey{Hash: keygate.HashSecret("a"), UserID: "u1", WorkspaceID: "w1", Label: "sk-kg-v1-abc...def", CreatedAt: t0}},
		{"every-field", keygate.APIKey{
			Hash: keygate.HashSecret("b"), UserID: "u2", WorkspaceID: "w2", AppID: &app,
			ParentHash: keygate.HashSecret("parent"), Name: "Ünïcode name", Label: "Ünïcode name",
			IsManagement: true, Disabled: true, Limit: &limit, LimitReset: keygate.LimitReset(strings.Clone("weekly")),
			IncludeBYOK: true, ExpiresAt: &exp, ExternalUser: &ext, CreatorUserID: "admin", CreatedAt: t0, UpdatedAt: &upd,
		}},
		{"creator-is-owner", keygate.APIKey{Hash: keygate.HashSecret("c"), UserID: "u3", WorkspaceID: "w3", Label: "x", CreatorUserID: "u3", CreatedAt: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.key
			k := tt.key // the cache may rewrite what it is given
			c := keygate.NewKeyCache(1024, time.Minute)
			c.Put(&k, t0)
			got, ok := c.Get(want.Hash, t0)
			if !ok {
				t.Fatal("miss")
			}
			if d := cmp.Diff(&want, got); d != "" {
				t.Errorf("cached key differs (-stored +cached):\n%s", d)
			}
		})
	}
}
