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
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	key    *APIKey
	loaded time.Time
}

func newKeyCache(size int, ttl time.Duration) *keyCache {
	c := &keyCache{seed: maphash.MakeSeed(), perShard: max(size/cacheShards, 1), ttl: ttl}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *keyCache) shard(hash string) *cacheShard {
	return &c.shards[maphash.String(c.seed, hash)%cacheShards]
}

// get returns the cached key for hash if it was loaded less than ttl before now.
func (c *keyCache) get(hash string, now time.Time) (*APIKey, bool) {
	sh := c.shard(hash)
	sh.mu.RLock()
	e, ok := sh.m[hash]
	sh.mu.RUnlock()
	if !ok || now.Sub(e.loaded) >= c.ttl {
		return nil, false
	}
	return e.key, true
}

// put stores k, evicting an arbitrary entry of the shard when it is full.
func (c *keyCache) put(k *APIKey, now time.Time) {
	sh := c.shard(k.Hash)
	sh.mu.Lock()
	if _, ok := sh.m[k.Hash]; !ok && len(sh.m) >= c.perShard {
		for h := range sh.m { // map order is random: a cheap random eviction
			delete(sh.m, h)
			break
		}
	}
	sh.m[k.Hash] = cacheEntry{key: k, loaded: now}
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
