package keygate

import (
	"hash/maphash"
	"math/rand/v2"
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
//
// Lifetimes are jittered: each entry lives between 3/4 of ttl and ttl (a
// uniform draw), so that keys loaded together (at start-up, after a reset)
// do not all expire in the same instant and send their requests to the
// store at once. An entry used in the last eighth of its life is reloaded
// in the background (lookup answers refresh), so a key in steady use is
// never a miss.
//
// Hashes the store does not know are remembered for negTTL (negative
// entries), apart from the keys and in a bounded set of their own, so that
// a flood of unknown keys can neither reach the store more than once per
// distinct key per negTTL nor evict known keys.
type keyCache struct {
	shards   [cacheShards]cacheShard
	seed     maphash.Seed
	perShard int
	ttl      time.Duration
	usageTTL time.Duration // 0: usage is never cached
	negTTL   time.Duration // 0: unknown keys are not remembered
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
	// unknown holds the negative entries, at most unknownPerShard.
	unknown map[uint64]unknownEntry
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
	key *APIKey
	// loaded is c.since(the time it was stored) less a random jitter of
	// up to a quarter of ttl: the entry ages from then.
	loaded int64
	usage  *usageSnapshot // nil until read, and after a drop
	// refreshing says that a reload ahead of expiry was handed out.
	refreshing bool
}

// unknownEntry is a hash the store did not know when it was read.
type unknownEntry struct {
	hash   string
	loaded int64 // c.since(the time of the read)
}

// unknownPerShard bounds the negative entries of a shard: 65,536 in all,
// about 10 MiB (the 64-byte hash, its string header, the map slot).
const unknownPerShard = 1024

// lookupState is what lookup found.
type lookupState int

const (
	cacheMiss    lookupState = iota // read the store
	cacheHit                        // the key, fresh
	cacheRefresh                    // the key, fresh, but near its end: reload it in the background
	cacheUnknown                    // the store did not know the hash less than negTTL ago
)

// cacheGens are a shard's invalidation and usage drop counts at a lookup,
// for put, putUnknown and putUsage after the store read that follows.
type cacheGens struct{ key, usage uint64 }

// usageSnapshot is a key's usage as the store reported it.
type usageSnapshot struct {
	usage  Usage
	day    int64 // start of the UTC day it was read for, Unix nanoseconds
	loaded int64 // c.since(the time it was read)
}

func newKeyCache(size int, ttl, usageTTL, negTTL time.Duration) *keyCache {
	c := &keyCache{seed: maphash.MakeSeed(), perShard: max(size/cacheShards, 1), ttl: ttl, usageTTL: usageTTL, negTTL: negTTL, base: time.Now()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]cacheEntry)
		c.shards[i].unknown = make(map[uint64]unknownEntry)
	}
	return c
}

// jitter returns a random part of d, up to a quarter of it, by which an
// entry's life is shortened.
func jitter(d time.Duration) int64 {
	if d < 4 {
		return 0
	}
	return rand.Int64N(int64(d) / 4)
}

// locate returns the shard of hash and its map key there.
func (c *keyCache) locate(hash string) (*cacheShard, uint64) {
	h := maphash.String(c.seed, hash)
	return &c.shards[h%cacheShards], h
}

// since returns t as nanoseconds since the cache was made.
func (c *keyCache) since(t time.Time) int64 { return int64(t.Sub(c.base)) }

// get returns the cached key for hash if it is fresh at now. On a miss it
// returns the shard's invalidation count, for put.
func (c *keyCache) get(hash string, now time.Time) (k *APIKey, gen uint64, ok bool) {
	k, gens, state := c.lookup(hash, now)
	return k, gens.key, state == cacheHit || state == cacheRefresh
}

// lookup returns the cached key for hash and what it found (lookupState),
// with the shard's counts for the puts that follow a store read. Of the
// lookups of an entry in its last eighth, exactly one answers
// cacheRefresh.
func (c *keyCache) lookup(hash string, now time.Time) (*APIKey, cacheGens, lookupState) {
	sh, h := c.locate(hash)
	t := c.since(now)
	sh.mu.RLock()
	e, found := sh.m[h]
	gens := cacheGens{key: sh.keyGen, usage: sh.usageGen}
	var u unknownEntry
	if !found {
		u = sh.unknown[h]
	}
	sh.mu.RUnlock()
	if found && e.key.Hash == hash {
		age := t - e.loaded
		switch {
		case age >= int64(c.ttl):
			return nil, gens, cacheMiss
		case age >= int64(c.ttl-c.ttl/8) && !e.refreshing && c.markRefreshing(sh, h, e.loaded):
			return e.key, gens, cacheRefresh
		}
		return e.key, gens, cacheHit
	}
	if u.hash == hash && t-u.loaded < int64(c.negTTL) {
		return nil, gens, cacheUnknown
	}
	return nil, gens, cacheMiss
}

// gens returns the counts of hash's shard, for the puts after a store read.
func (c *keyCache) gens(hash string) cacheGens {
	sh, _ := c.locate(hash)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return cacheGens{key: sh.keyGen, usage: sh.usageGen}
}

// markRefreshing marks the entry h of sh, loaded at loaded, as being
// reloaded, and reports whether this call did (not another, not after a
// new put).
func (c *keyCache) markRefreshing(sh *cacheShard, h uint64, loaded int64) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[h]
	if !ok || e.loaded != loaded || e.refreshing {
		return false
	}
	e.refreshing = true
	sh.m[h] = e
	return true
}

// put stores k, read from the store after get returned gen, unless a key of
// its shard was invalidated since: the read may then predate the change. It
// evicts an arbitrary entry of the shard when it is full. k becomes the
// cache's: nobody may change it afterwards. The usage cached with an older
// entry of k is kept (dropUsage and the usage TTL govern it).
func (c *keyCache) put(k *APIKey, now time.Time, gen uint64) {
	compact(k)
	sh, h := c.locate(k.Hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.keyGen != gen {
		return
	}
	old, ok := sh.m[h]
	if !ok && len(sh.m) >= c.perShard {
		for old := range sh.m { // map order is random: a cheap random eviction
			delete(sh.m, old)
			break
		}
	}
	e := cacheEntry{key: k, loaded: c.since(now) - jitter(c.ttl)}
	if ok && old.key.Hash == k.Hash {
		e.usage = old.usage
	}
	sh.m[h] = e
	delete(sh.unknown, h)
}

// putWithUsage is put followed by putUsage of u, both read in one
// statement after lookup returned gens, under one lock and with one
// jitter: the key and its usage age together, so that when their TTLs are
// equal the reload ahead of the key's expiry renews the usage too, and
// GET /api/v1/key never reads the usage apart.
func (c *keyCache) putWithUsage(k *APIKey, u Usage, now time.Time, gens cacheGens) {
	compact(k)
	sh, h := c.locate(k.Hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.keyGen != gens.key {
		return
	}
	if _, ok := sh.m[h]; !ok && len(sh.m) >= c.perShard {
		for old := range sh.m { // map order is random: a cheap random eviction
			delete(sh.m, old)
			break
		}
	}
	t := c.since(now)
	f := rand.Float64() / 4 // the part of each lifetime cut off
	e := cacheEntry{key: k, loaded: t - int64(f*float64(c.ttl))}
	if c.usageTTL > 0 && sh.usageGen == gens.usage {
		e.usage = &usageSnapshot{usage: u, day: now.UTC().Truncate(24 * time.Hour).UnixNano(), loaded: t - int64(f*float64(c.usageTTL))}
	}
	sh.m[h] = e
	delete(sh.unknown, h)
}

// putUnknown remembers that the store did not know hash at now, read
// after lookup returned gen, and forgets any key cached for it, unless a
// key of its shard was invalidated since. A full shard drops an arbitrary
// negative entry.
func (c *keyCache) putUnknown(hash string, now time.Time, gen uint64) {
	sh, h := c.locate(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.keyGen != gen {
		return
	}
	if e, ok := sh.m[h]; ok && e.key.Hash == hash {
		delete(sh.m, h)
	}
	if c.negTTL <= 0 {
		return
	}
	if _, ok := sh.unknown[h]; !ok && len(sh.unknown) >= unknownPerShard {
		for old := range sh.unknown {
			delete(sh.unknown, old)
			break
		}
	}
	sh.unknown[h] = unknownEntry{hash: hash, loaded: c.since(now)}
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
	snap := &usageSnapshot{usage: u, day: now.UTC().Truncate(24 * time.Hour).UnixNano(), loaded: c.since(now) - jitter(c.usageTTL)}
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
	delete(sh.unknown, h)
	sh.mu.Unlock()
}

// clear drops every entry: used when a replica's invalidation feed
// reconnects and notifications may have been missed.
func (c *keyCache) clear() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		clear(sh.unknown)
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
