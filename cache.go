package keygate

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// keyCache maps key hashes to immutable *APIKey snapshots so that verifying
// a key costs one SHA-256 and one map lookup. It is sharded so that readers
// on different cores rarely touch the same lock, bounded in entries, and
// each entry is trusted for at most ttl: the fallback when an invalidation
// from another replica is missed.
//
// An entry may also hold the key's usage, so that GET /api/v1/key answers
// without a database round trip. Usage recorded through this process drops
// it at once (dropUsage); usage recorded by another replica is seen after
// at most usageTTL, and never across a UTC day boundary, where every usage
// period starts.
type keyCache struct {
	shards   [cacheShards]cacheShard
	seed     maphash.Seed
	perShard int
	ttl      time.Duration
	usageTTL time.Duration // 0: usage is never cached
	// base is when the cache was made: entries record their age as
	// nanoseconds since base, 8 bytes rather than a 24-byte time.Time, and
	// on the monotonic clock when the service's clock has one.
	base time.Time
}

const cacheShards = 64

// cacheShard maps the 64-bit maphash of a key hash to its entry: one
// string hash per lookup (it also picks the shard) and an 8-byte map key
// instead of a 16-byte string header. Two key hashes that share a maphash
// (a chance of about n/2⁶⁴) take turns in one entry: the entry holds the
// full hash, so the other is a miss, never a wrong key.
type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]cacheEntry
	// usageGen counts the usage drops of the shard, so that usage read
	// from the store before a drop is not stored after it (putUsage).
	usageGen uint64
	// keyGen counts the key invalidations of the shard, so that a key read
	// from the store before a disable or delete is not stored after it
	// (put): without it, a reader racing a PATCH could put the old, enabled
	// key back and keep it working until the TTL ran out.
	keyGen uint64
}

type cacheEntry struct {
	key    *APIKey
	loaded int64          // c.since(the time it was stored)
	usage  *usageSnapshot // nil until read, and after a drop
}

// usageSnapshot is a key's usage as the store reported it.
type usageSnapshot struct {
	usage  Usage
	day    int64 // start of the UTC day it was read for, Unix nanoseconds
	loaded int64 // c.since(the time it was read)
}

func newKeyCache(size int, ttl, usageTTL time.Duration) *keyCache {
	c := &keyCache{seed: maphash.MakeSeed(), perShard: max(size/cacheShards, 1), ttl: ttl, usageTTL: usageTTL, base: time.Now()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]cacheEntry)
	}
	return c
}

// locate returns the shard of hash and its map key there.
func (c *keyCache) locate(hash string) (*cacheShard, uint64) {
	h := maphash.String(c.seed, hash)
	return &c.shards[h%cacheShards], h
}

// since returns t as nanoseconds since the cache was made.
func (c *keyCache) since(t time.Time) int64 { return int64(t.Sub(c.base)) }

// get returns the cached key for hash if it was loaded less than ttl before
// now. On a miss it returns the shard's invalidation count, for put.
func (c *keyCache) get(hash string, now time.Time) (k *APIKey, gen uint64, ok bool) {
	sh, h := c.locate(hash)
	sh.mu.RLock()
	e, found := sh.m[h]
	gen = sh.keyGen
	sh.mu.RUnlock()
	if !found || e.key.Hash != hash || c.since(now)-e.loaded >= int64(c.ttl) {
		return nil, gen, false
	}
	return e.key, gen, true
}

// put stores k, read from the store after get returned gen, unless a key of
// its shard was invalidated since: the read may then predate the change. It
// evicts an arbitrary entry of the shard when it is full. k becomes the
// cache's: nobody may change it afterwards.
func (c *keyCache) put(k *APIKey, now time.Time, gen uint64) {
	compact(k)
	sh, h := c.locate(k.Hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.keyGen != gen {
		return
	}
	if _, ok := sh.m[h]; !ok && len(sh.m) >= c.perShard {
		for old := range sh.m { // map order is random: a cheap random eviction
			delete(sh.m, old)
			break
		}
	}
	sh.m[h] = cacheEntry{key: k, loaded: c.since(now)}
}

// usage returns the usage cached for hash if it was read in the UTC day of
// now, less than usageTTL before now. On a miss it returns the shard's drop
// count, for putUsage.
func (c *keyCache) usage(hash string, now time.Time) (u Usage, gen uint64, ok bool) {
	sh, h := c.locate(hash)
	sh.mu.RLock()
	e, found := sh.m[h]
	gen = sh.usageGen
	sh.mu.RUnlock()
	if !found || e.usage == nil || e.key.Hash != hash {
		return Usage{}, gen, false
	}
	t := now.UnixNano()
	if t < e.usage.day || t >= e.usage.day+int64(24*time.Hour) || c.since(now)-e.usage.loaded >= int64(c.usageTTL) {
		return Usage{}, gen, false
	}
	return e.usage.usage, gen, true
}

// putUsage caches u, read from the store for hash at now, unless the key is
// not cached or its shard dropped usage since usage returned gen: the read
// may then predate a recorded request.
func (c *keyCache) putUsage(hash string, u Usage, now time.Time, gen uint64) {
	if c.usageTTL <= 0 {
		return
	}
	snap := &usageSnapshot{usage: u, day: now.UTC().Truncate(24 * time.Hour).UnixNano(), loaded: c.since(now)}
	sh, h := c.locate(hash)
	sh.mu.Lock()
	if e, ok := sh.m[h]; ok && e.key.Hash == hash && sh.usageGen == gen {
		e.usage = snap
		sh.m[h] = e
	}
	sh.mu.Unlock()
}

// dropUsage forgets the usage cached for hash: usage was just recorded.
func (c *keyCache) dropUsage(hash string) {
	sh, h := c.locate(hash)
	sh.mu.Lock()
	sh.usageGen++
	if e, ok := sh.m[h]; ok && e.usage != nil {
		e.usage = nil
		sh.m[h] = e
	}
	sh.mu.Unlock()
}

// delete drops hash's entry; a read of it under way is not cached either.
func (c *keyCache) delete(hash string) {
	sh, h := c.locate(hash)
	sh.mu.Lock()
	sh.keyGen++
	delete(sh.m, h)
	sh.mu.Unlock()
}

// clear drops every entry: used when a replica's invalidation feed
// reconnects and notifications may have been missed.
func (c *keyCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.usageGen++
		sh.keyGen++
		sh.mu.Unlock()
	}
}

// compact rewrites the strings of k as substrings of one allocation: with
// a million keys cached, the garbage collector marks one object per key
// where it marked up to seven, and no string is rounded up to its own size
// class. A key's creator is nearly always its owner and then shares the
// owner's id; a limit reset becomes one of the package's constants.
func compact(k *APIKey) {
	creatorIsOwner := k.CreatorUserID == k.UserID
	if creatorIsOwner {
		k.CreatorUserID = ""
	}
	fields := [...]*string{&k.Hash, &k.UserID, &k.WorkspaceID, &k.ParentHash, &k.Name, &k.Label, &k.CreatorUserID}
	var lens [len(fields)]int
	n := 0
	for i, f := range fields {
		lens[i] = len(*f)
		n += lens[i]
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all := b.String()
	for i, f := range fields {
		*f, all = all[:lens[i]], all[lens[i]:]
	}
	if creatorIsOwner {
		k.CreatorUserID = k.UserID
	}
	switch k.LimitReset {
	case ResetDaily:
		k.LimitReset = ResetDaily
	case ResetWeekly:
		k.LimitReset = ResetWeekly
	case ResetMonthly:
		k.LimitReset = ResetMonthly
	}
}

// len returns how many keys the cache holds, expired ones not yet
// replaced included.
func (c *keyCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
