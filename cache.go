package keygate

import (
	"hash/maphash"
	"sync"
	"time"
)

// keyCache maps key hashes to immutable *APIKey snapshots so that verifying
// a key costs one SHA-256 and one map lookup. It is sharded so that readers
// on different cores rarely touch the same lock, bounded in entries, and
// each entry is trusted for at most ttl: the fallback when an invalidation
// from another replica is missed.
type keyCache struct {
	shards   [cacheShards]cacheShard
	seed     maphash.Seed
	perShard int
	ttl      time.Duration
	// base is when the cache was made: entries record their age as
	// nanoseconds since base, 8 bytes rather than a 24-byte time.Time, and
	// on the monotonic clock when the service's clock has one.
	base time.Time
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	key    *APIKey
	loaded int64 // c.since(the time it was stored)
}

func newKeyCache(size int, ttl time.Duration) *keyCache {
	c := &keyCache{seed: maphash.MakeSeed(), perShard: max(size/cacheShards, 1), ttl: ttl, base: time.Now()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *keyCache) shard(hash string) *cacheShard {
	return &c.shards[maphash.String(c.seed, hash)%cacheShards]
}

// since returns t as nanoseconds since the cache was made.
func (c *keyCache) since(t time.Time) int64 { return int64(t.Sub(c.base)) }

// get returns the cached key for hash if it was loaded less than ttl before now.
func (c *keyCache) get(hash string, now time.Time) (*APIKey, bool) {
	sh := c.shard(hash)
	sh.mu.RLock()
	e, ok := sh.m[hash]
	sh.mu.RUnlock()
	if !ok || c.since(now)-e.loaded >= int64(c.ttl) {
		return nil, false
	}
	return e.key, true
}

// put stores k, evicting an arbitrary entry of the shard when it is full.
// k becomes the cache's: nobody may change it afterwards.
func (c *keyCache) put(k *APIKey, now time.Time) {
	// A key's creator is nearly always its owner: one copy of the id
	// instead of two saves 48 bytes per cached key.
	if k.CreatorUserID == k.UserID {
		k.CreatorUserID = k.UserID
	}
	sh := c.shard(k.Hash)
	sh.mu.Lock()
	if _, ok := sh.m[k.Hash]; !ok && len(sh.m) >= c.perShard {
		for h := range sh.m { // map order is random: a cheap random eviction
			delete(sh.m, h)
			break
		}
	}
	sh.m[k.Hash] = cacheEntry{key: k, loaded: c.since(now)}
	sh.mu.Unlock()
}

func (c *keyCache) delete(hash string) {
	sh := c.shard(hash)
	sh.mu.Lock()
	delete(sh.m, hash)
	sh.mu.Unlock()
}

// clear drops every entry: used when a replica's invalidation feed
// reconnects and notifications may have been missed.
func (c *keyCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}
