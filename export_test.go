package keygate

import "time"

// KeyCache exposes the unexported key cache to the package's external
// tests and benchmarks.
type KeyCache struct{ c *keyCache }

func NewKeyCache(size int, ttl time.Duration) KeyCache {
	return KeyCache{newKeyCache(size, ttl, ttl, ttl)}
}

// LookupState is what a lookup found: "miss", "hit", "refresh" or
// "unknown".
func (c KeyCache) LookupState(hash string, now time.Time) string {
	_, _, state := c.c.lookup(hash, now)
	return [...]string{cacheMiss: "miss", cacheHit: "hit", cacheRefresh: "refresh", cacheUnknown: "unknown"}[state]
}

// PutUnknown records that the store did not know hash at now.
func (c KeyCache) PutUnknown(hash string, now time.Time) {
	c.c.putUnknown(hash, now, c.c.gens(hash).key)
}

// UnknownLen returns how many negative entries the cache holds.
func (c KeyCache) UnknownLen() int {
	n := 0
	for i := range c.c.shards {
		sh := &c.c.shards[i]
		sh.mu.RLock()
		n += len(sh.unknown)
		sh.mu.RUnlock()
	}
	return n
}

// InlineReloads makes a service reload cached keys ahead of expiry in the
// request that finds them near it, instead of in a goroutine, so that a
// test sees each reload done when the call returns.
func InlineReloads() Option { return func(s *Service) { s.background = func(f func()) { f() } } }

func (c KeyCache) Get(hash string, now time.Time) (*APIKey, bool) {
	k, _, ok := c.c.get(hash, now)
	return k, ok
}

// Put stores k as a read that started now would.
func (c KeyCache) Put(k *APIKey, now time.Time) {
	_, gen, _ := c.c.get(k.Hash, now)
	c.c.put(k, now, gen)
}

// Lookup and PutAfter split Put, so a test can invalidate between the two.
func (c KeyCache) Lookup(hash string, now time.Time) (*APIKey, uint64, bool) {
	return c.c.get(hash, now)
}

func (c KeyCache) PutAfter(k *APIKey, now time.Time, gen uint64) { c.c.put(k, now, gen) }

func (c KeyCache) Delete(hash string) { c.c.delete(hash) }

// Len returns how many entries the cache holds, expired ones included.
func (c KeyCache) Len() int {
	n := 0
	for i := range c.c.shards {
		sh := &c.c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

func (c KeyCache) Usage(hash string, now time.Time) (Usage, uint64, bool) {
	return c.c.usage(hash, now)
}

func (c KeyCache) PutUsage(hash string, u Usage, now time.Time, gen uint64) {
	c.c.putUsage(hash, u, now, gen)
}

func (c KeyCache) DropUsage(hash string) { c.c.dropUsage(hash) }
