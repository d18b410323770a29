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
// its balance: the key's usage as last read from the store or returned by
// a settlement, and what requests in flight hold. Admission is decided
// here, in memory; the store is read when a key is cold, when its usage is
// older than ttl (the bound on how late this process sees spending that
// another process records), and when a usage period starts.
type spendBook struct {
	store UsageStore
	ttl   time.Duration
	max   int // balances kept; idle ones are dropped beyond it

	mu sync.Mutex
	m  map[string]*balance
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
}

func newSpendBook(store UsageStore, ttl time.Duration, max int) *spendBook {
	return &spendBook{store: store, ttl: ttl, max: max, m: make(map[string]*balance)}
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

// evict drops idle balances, in map order (random), until a tenth of the
// book is free. Called with sb.mu held. A balance with holds stays: its
// reservations release into it.
func (sb *spendBook) evict() {
	target := sb.max - max(sb.max/10, 1)
	for h, b := range sb.m {
		if len(sb.m) <= target {
			return
		}
		b.mu.Lock()
		idle := b.holders == 0
		b.mu.Unlock()
		if idle {
			delete(sb.m, h)
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

// hold admits a request for the keys of chain that have a limit, holding
// min(want, the smallest room) on each; see Service.Reserve.
func (sb *spendBook) hold(ctx context.Context, chain []*APIKey, want Micros, now time.Time) (Micros, []*balance, error) {
	p := PeriodsAt(now)
	bs := make([]*balance, len(chain))
	for i, c := range chain {
		b, err := sb.fresh(ctx, c.Hash, p, now)
		if err != nil {
			return 0, nil, err
		}
		bs[i] = b
	}
	// Locked in the order of their hashes, so that two requests of
	// overlapping chains cannot wait for each other.
	order := make([]int, len(bs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return cmp.Compare(bs[i].hash, bs[j].hash) })
	for _, i := range order {
		bs[i].mu.Lock()
	}
	unlock := func() {
		for _, i := range order {
			bs[i].mu.Unlock()
		}
	}
	amount := want
	for i, c := range chain {
		used := bs[i].usage.PeriodUsage(c.LimitReset, c.IncludeBYOK)
		room := *c.Limit - used - bs[i].held
		if used >= *c.Limit || room <= 0 {
			unlock()
			return 0, nil, limitExceeded(c.LimitReset)
		}
		amount = min(amount, room)
	}
	for _, b := range bs {
		b.held += amount
		b.holders++
	}
	unlock()
	return amount, bs, nil
}

// release gives back amount held on b.
func (sb *spendBook) release(b *balance, amount Micros) {
	b.mu.Lock()
	b.held -= amount
	b.holders--
	b.mu.Unlock()
}

// observe merges counter sums that a settlement returned into the
// balances they belong to.
func (sb *spendBook) observe(sums []UsageCounter) {
	for i := 0; i < len(sums); {
		j := i + 1
		for j < len(sums) && sums[j].KeyHash == sums[i].KeyHash {
			j++
		}
		sb.mu.Lock()
		b := sb.m[sums[i].KeyHash]
		sb.mu.Unlock()
		if b != nil {
			b.mu.Lock()
			b.usage.merge(b.periods, sums[i:j])
			b.mu.Unlock()
		}
		i = j
	}
}
