package keygate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// spendBook holds, for each key with a limit that this process spends for,
// its balance, and decides admission in memory (docs/spending.md).
//
// On a store that hands out no leases (SQLite: one process serves), the
// balance is the key's usage, as last read from the store or returned by a
// settlement, and what requests in flight hold: the store is read when a
// key is cold, when its usage is older than ttl (the bound on how late
// spending recorded by another process on the file is seen), and when a
// usage period starts.
//
// On a LeaseStore (PostgreSQL, shared by replicas), a request is admitted
// from the budget lease this process holds for each limited key of its
// chain; a new or larger lease is one database write (see lease.go).
type spendBook struct {
	store    UsageStore
	leases   LeaseStore // nil: balances are read from the usage counters
	now      func() time.Time
	ttl      time.Duration
	leaseTTL time.Duration
	max      int // balances kept; idle ones are dropped beyond it

	mu       sync.Mutex
	m        map[string]*balance
	sweeping bool // a sweeper goroutine runs (lease.go)

	grants grantQueue // acquisitions waiting to be asked together (lease.go)
}

// balance is one key's spending state. Its fields are guarded by mu.
type balance struct {
	mu      sync.Mutex
	hash    string
	periods Periods   // the periods usage is for
	usage   Usage     // the largest sums seen: counters only grow
	read    time.Time // when usage was last read from the store; zero: never
	held    Micros    // held by reservations in flight
	holders int       // reservations in flight
	// clamped counts the reservations in flight that hold less than they
	// asked for: at most one, so that at most one request per process
	// may cost more than the room it was admitted to (docs/spending.md).
	clamped int

	lease leaseState // on a LeaseStore only
}

func newSpendBook(store UsageStore, now func() time.Time, ttl, leaseTTL time.Duration, max int) *spendBook {
	if leaseTTL <= 0 {
		leaseTTL = DefaultLeaseTTL
	}
	sb := &spendBook{store: store, now: now, ttl: ttl, leaseTTL: leaseTTL, max: max, m: make(map[string]*balance)}
	sb.leases, _ = store.(LeaseStore)
	return sb
}

// hold is what one reservation holds on one balance.
type hold struct {
	b       *balance
	lease   int64 // the lease it was taken from, 0 for none
	clamped bool  // it holds less than its request asked for
}

// get returns the balance of hash, making an empty one.
func (sb *spendBook) get(hash string) *balance {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	b := sb.m[hash]
	if b != nil {
		return b
	}
	if len(sb.m) >= sb.max {
		sb.evict()
	}
	b = &balance{hash: hash}
	sb.m[hash] = b
	return b
}

// lookup returns the balance of hash, nil when there is none.
func (sb *spendBook) lookup(hash string) *balance {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.m[hash]
}

// evict drops idle balances, in map order (random), until a tenth of the
// book is free. Called with sb.mu held. A balance with holds or a lease
// stays: reservations release into it, and a lease is given back by the
// sweeper first.
func (sb *spendBook) evict() {
	target := sb.max - max(sb.max/10, 1)
	for h, b := range sb.m {
		if len(sb.m) <= target {
			return
		}
		b.mu.Lock()
		idle := b.holders == 0 && b.lease.id == 0
		b.mu.Unlock()
		if idle {
			delete(sb.m, h)
		}
	}
}

// reserve admits a request for the keys of chain, all with a limit,
// holding min(want, the smallest room) on each; see Service.Reserve.
func (sb *spendBook) reserve(ctx context.Context, chain []*APIKey, want Micros) (Micros, []hold, error) {
	if sb.leases != nil {
		return sb.reserveLeased(ctx, chain, want)
	}
	now := sb.now()
	p := PeriodsAt(now)
	bs := make([]*balance, len(chain))
	for i, c := range chain {
		b, err := sb.fresh(ctx, c.Hash, p, now)
		if err != nil {
			return 0, nil, err
		}
		bs[i] = b
	}
	unlock := lockAll(bs)
	defer unlock()
	amount, short := want, -1
	for i, c := range chain {
		used := bs[i].usage.PeriodUsage(c.LimitReset, c.IncludeBYOK)
		room := *c.Limit - used - bs[i].held
		if used >= *c.Limit || room <= 0 {
			return 0, nil, refusal(c)
		}
		if room < amount {
			amount, short = room, i
		}
	}
	if short >= 0 && anyClamped(bs) {
		return 0, nil, refusal(chain[short])
	}
	return amount, takeHolds(bs, amount, short >= 0, nil), nil
}

// anyClamped reports whether a balance of bs, all locked, has a clamped
// reservation in flight.
func anyClamped(bs []*balance) bool {
	for _, b := range bs {
		if b.clamped > 0 {
			return true
		}
	}
	return false
}

// takeHolds holds amount on every balance of bs, all locked, from their
// leases when leases is not nil.
func takeHolds(bs []*balance, amount Micros, clamped bool, lease func(b *balance) int64) []hold {
	holds := make([]hold, len(bs))
	for i, b := range bs {
		b.held += amount
		b.holders++
		if clamped {
			b.clamped++
		}
		holds[i] = hold{b: b, clamped: clamped}
		if lease != nil {
			holds[i].lease = lease(b)
		}
	}
	return holds
}

// lockAll locks bs in the order of their hashes, so that two requests of
// overlapping chains never wait for each other, and returns the unlock.
func lockAll(bs []*balance) func() {
	order := slices.Clone(bs)
	slices.SortFunc(order, func(a, b *balance) int { return cmp.Compare(a.hash, b.hash) })
	for _, b := range order {
		b.mu.Lock()
	}
	return func() {
		for _, b := range order {
			b.mu.Unlock()
		}
	}
}

// fresh returns the balance of hash with usage current for the periods p
// at now: read from the store when it is cold, older than ttl, or for
// other periods.
func (sb *spendBook) fresh(ctx context.Context, hash string, p Periods, now time.Time) (*balance, error) {
	b := sb.get(hash)
	b.mu.Lock()
	ok := !b.read.IsZero() && b.periods == p && now.Sub(b.read) < sb.ttl
	b.mu.Unlock()
	if ok {
		return b, nil
	}
	want := Counters(hash, p)
	rows, err := sb.store.UsageCounters(ctx, hash, want[:])
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("usage counters: %w: %w", errUnavailable, err)
	}
	b.mu.Lock()
	if b.periods != p {
		b.periods, b.usage = p, Usage{}
	}
	b.usage.merge(p, rows)
	b.read = now
	b.mu.Unlock()
	return b, nil
}

// usage returns the usage of hash at now, as fresh returns it, for an
// admission that holds nothing.
func (sb *spendBook) usage(ctx context.Context, hash string, now time.Time) (Usage, error) {
	b, err := sb.fresh(ctx, hash, PeriodsAt(now), now)
	if err != nil {
		return Usage{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usage, nil
}

// usageChanged makes the next read of hash's usage go to the store:
// another process charged it.
func (sb *spendBook) usageChanged(hash string) {
	if b := sb.lookup(hash); b != nil {
		b.mu.Lock()
		b.read = time.Time{}
		b.mu.Unlock()
	}
}

// release gives back what h held (amount), of which spent was charged;
// amount 0 only takes a late charge out of h's lease.
func (sb *spendBook) release(h hold, amount, spent Micros) {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if amount > 0 {
		b.held -= amount
		b.holders--
		if h.clamped {
			b.clamped--
		}
	}
	if h.lease != 0 && h.lease == b.lease.id {
		// What the request did not spend goes back to the lease; what it
		// spent beyond its hold comes out of the rest, as the database
		// draws it.
		b.lease.held -= amount
		b.lease.left = max(b.lease.left+amount-spent, 0)
	}
}

// observe merges counter sums that a settlement returned into the
// balances they belong to.
func (sb *spendBook) observe(sums []UsageCounter) {
	for i := 0; i < len(sums); {
		j := i + 1
		for j < len(sums) && sums[j].KeyHash == sums[i].KeyHash {
			j++
		}
		if b := sb.lookup(sums[i].KeyHash); b != nil {
			b.mu.Lock()
			b.usage.merge(b.periods, sums[i:j])
			b.mu.Unlock()
		}
		i = j
	}
}
