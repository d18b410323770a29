package keygate_test

import (
	"strconv"
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
		// Lifetimes are jittered between 3/4 of the TTL and the TTL.
		{"just-before-shortest-life", ttl*3/4 - time.Nanosecond, true},
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

// TestKeyCacheJitter: keys stored in one instant expire over the last
// quarter of the TTL, not together.
func TestKeyCacheJitter(t *testing.T) {
	const ttl, n = 40 * time.Second, 2000
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	c := keygate.NewKeyCache(4*n, ttl)
	keys := make([]*keygate.APIKey, n)
	for i := range keys {
		_, keys[i] = storedKey("u", "w", t0)
		c.Put(keys[i], t0)
	}
	alive := func(at time.Duration) int {
		hits := 0
		for _, k := range keys {
			if _, ok := c.Get(k.Hash, t0.Add(at)); ok {
				hits++
			}
		}
		return hits
	}
	if got := alive(ttl*3/4 - time.Nanosecond); got != n {
		t.Errorf("alive just before 3/4 of the TTL = %d, want all %d", got, n)
	}
	// A uniform draw: half of them at 7/8, a quarter at 15/16 (binomial
	// spreads of about 1 % at this n).
	for _, tc := range []struct {
		at       time.Duration
		min, max int
	}{{ttl * 7 / 8, n * 4 / 10, n * 6 / 10}, {ttl * 15 / 16, n * 15 / 100, n * 35 / 100}} {
		if got := alive(tc.at); got < tc.min || got > tc.max {
			t.Errorf("alive at %v of %v = %d, want %d to %d", tc.at, ttl, got, tc.min, tc.max)
		}
	}
	if got := alive(ttl); got != 0 {
		t.Errorf("alive at the TTL = %d, want 0", got)
	}
}

// TestKeyCacheRefreshAhead: an entry used in the last eighth of its life
// asks for one reload, once; before and after that it is a hit, and at its
// end a miss.
func TestKeyCacheRefreshAhead(t *testing.T) {
	const ttl = 80 * time.Second
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for range 20 { // each put draws its own jitter
		c := keygate.NewKeyCache(1024, ttl)
		_, k := storedKey("u", "w", t0)
		c.Put(k, t0)
		var states []string
		at := time.Duration(0)
		for ; at <= ttl; at += ttl / 1000 {
			s := c.LookupState(k.Hash, t0.Add(at))
			if len(states) == 0 || states[len(states)-1] != s {
				states = append(states, s)
			}
			if s == "refresh" && at < ttl*5/8 {
				t.Fatalf("refresh asked at %v, before 5/8 of the TTL", at)
			}
			if s == "miss" {
				break
			}
		}
		if want := []string{"hit", "refresh", "hit", "miss"}; !cmp.Equal(states, want) {
			t.Fatalf("lookups through the TTL = %v, want %v", states, want)
		}
	}
}

// TestKeyCacheUnknown: a hash the store did not know is answered from
// memory for the negative lifetime (here the TTL), forgotten when its key
// is stored or invalidated, and the negative entries are bounded apart
// from the keys, so a flood of them evicts no key.
func TestKeyCacheUnknown(t *testing.T) {
	const ttl = 10 * time.Second
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	c := keygate.NewKeyCache(1024, ttl)
	unknown := keygate.HashSecret("sk-kg-v1-unknown")
	c.PutUnknown(unknown, t0)
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{{0, "unknown"}, {ttl - time.Nanosecond, "unknown"}, {ttl, "miss"}} {
		if got := c.LookupState(unknown, t0.Add(tc.at)); got != tc.want {
			t.Errorf("lookup at %v = %s, want %s", tc.at, got, tc.want)
		}
	}
	_, k := storedKey("u", "w", t0)
	c.PutUnknown(k.Hash, t0)
	c.Put(k, t0)
	if got := c.LookupState(k.Hash, t0); got != "hit" {
		t.Errorf("lookup of a key stored after it was unknown = %s, want hit", got)
	}
	c.PutUnknown(unknown, t0)
	c.Delete(unknown)
	if got := c.LookupState(unknown, t0); got != "miss" {
		t.Errorf("lookup after Delete = %s, want miss", got)
	}

	const flood = 200_000
	for i := range flood {
		c.PutUnknown(keygate.HashSecret(strconv.Itoa(i)), t0)
	}
	if n := c.UnknownLen(); n > 65536 || n < 60000 {
		t.Errorf("after %d unknown keys, %d negative entries, want up to 65,536", flood, n)
	}
	if got := c.LookupState(k.Hash, t0); got != "hit" {
		t.Errorf("lookup of a key after a flood of unknown ones = %s, want hit", got)
	}
}
