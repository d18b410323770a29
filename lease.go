package keygate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Budget leases, on a LeaseStore (docs/spending.md, "PostgreSQL: budget leases").
const (
	// DefaultLeaseTTL is Config.LeaseTTL's default: how long the
	// database counts a lease after it was last granted or renewed. A
	// replica that dies gives its leases back this long after at most. A
	// replica stops spending a lease a sixth of that before (5 s of 30 s),
	// so that clocks drifting apart by less never let two replicas spend
	// the same money, and renews a lease that requests hold at half of it.
	DefaultLeaseTTL = 30 * time.Second
	// leaseIdle is how long a lease that nothing holds may go unused
	// before it goes back, so that other replicas can have it, when the
	// key was near its limit at the lease's last grant (less than a
	// slice, 1/leaseSlices of the limit, left for the others); a lease
	// of a key far from its limit is kept until its deadline, so that a
	// key used now and then is not leased again for each request.
	leaseIdle = 2 * time.Second
	// leaseSweep is how often the sweeper looks for leases to give back
	// or renew.
	leaseSweep = time.Second
	// leaseSlices: a lease asks for at least 1/leaseSlices of the key's
	// limit, so that a key is leased a few times, not once per request.
	leaseSlices = 16
	// leaseRetry is how long a replica refuses, without asking the store
	// again, the requests of a key whose last acquisition could not
	// cover them: a key past its limit costs the database a few writes a
	// second per replica, not one per request.
	leaseRetry = 250 * time.Millisecond
	// leaseAcquireTimeout bounds one acquisition, which the requests of
	// its keys wait for.
	leaseAcquireTimeout = 5 * time.Second
)

// leaseState is a balance's lease. Guarded by the balance's mu.
type leaseState struct {
	id       int64
	key      *APIKey       // the key as the lease was granted for
	window   UsageCounter  // the counter the limit is measured in
	left     Micros        // neither held nor charged
	held     Micros        // held by reservations in flight from this lease
	deadline time.Time     // not spent from at or after
	renewAt  time.Time     // renewed from then on while reservations hold it
	used     time.Time     // the last reservation from it
	busy     chan struct{} // closed when the acquisition under way ends
	stale    bool          // the key changed: spend nothing more from it
	// retryAt: the last acquisition could not cover a request (no room,
	// or no store); until then requests it cannot cover are refused
	// without asking, for the reason in unreachable.
	retryAt     time.Time
	unreachable bool
	shrunk      bool // stale, and given back but for what is held
	// tight: at the last grant, the room left for the other replicas was
	// less than a slice of the limit; an idle lease then goes back after
	// leaseIdle.
	tight bool
}

// apply makes l the lease that the store granted for r. The store set the
// lease to its Amount where l had r.Keep when r was made; what happened to
// l since (holds taken and given back, charges) is in l.left and l.held, so
// the difference is added to what is left.
func (l *leaseState) apply(r LeaseRequest, got Lease) {
	if got.ID != l.id {
		// A new lease: holds of the old one do not release into it.
		l.id, l.held = got.ID, 0
	}
	l.key, l.window, l.stale, l.shrunk = r.Key, r.Window, false, false
	l.left = max(l.left+got.Amount-r.Keep, 0)
	l.tight = got.Room < *r.Key.Limit/leaseSlices
}

// granted sets the times of l, granted or renewed by a request made at
// now (before the database's clock started the lease's TTL).
func (sb *spendBook) granted(l *leaseState, now time.Time) {
	l.deadline = now.Add(sb.leaseTTL - sb.leaseTTL/6)
	l.renewAt = now.Add(sb.leaseTTL / 2)
}

// errStaleKey says that the store holds a newer version of a key of the
// chain than the one Reserve was given.
var errStaleKey = errors.New("stale key")

// window returns the counter that c's limit is measured in at p.
func window(c *APIKey, p Periods) UsageCounter {
	switch c.LimitReset {
	case ResetDaily:
		return UsageCounter{KeyHash: c.Hash, Period: PeriodDay, Start: p.Day}
	case ResetWeekly:
		return UsageCounter{KeyHash: c.Hash, Period: PeriodWeek, Start: p.Week}
	case ResetMonthly:
		return UsageCounter{KeyHash: c.Hash, Period: PeriodMonth, Start: p.Month}
	}
	return UsageCounter{KeyHash: c.Hash, Period: PeriodTotal, Start: epoch}
}

// sameBudget reports whether a and b have the same limit rules.
func sameBudget(a, b *APIKey) bool {
	return a != nil && b != nil && a.Limit != nil && b.Limit != nil && *a.Limit == *b.Limit &&
		a.LimitReset == b.LimitReset && a.IncludeBYOK == b.IncludeBYOK && a.Disabled == b.Disabled
}

// usable reports whether l may be spent for c at now, in window w.
func (l *leaseState) usable(c *APIKey, w UsageCounter, now time.Time) bool {
	return l.id != 0 && !l.stale && now.Before(l.deadline) && sameBudget(l.key, c) &&
		l.window.Period == w.Period && l.window.Start.Equal(w.Start)
}

// leaseAttempts bounds the acquisitions one Reserve makes: others may take
// a fresh grant before it does.
const leaseAttempts = 3

// reserveLeased admits a request from the leases of chain's keys, asking
// the store for a lease (one write for the whole chain) when a key's lease
// cannot cover want or is due for renewal. Only one acquisition per key
// runs at a time in this process; requests that need the same key wait for
// it. After an acquisition, what the leases have is taken (clamped to
// the smallest); a key whose lease is empty is refused: EFORBIDDEN when the
// store found no room, EUNAVAILABLE when it could not be asked.
func (sb *spendBook) reserveLeased(ctx context.Context, chain []*APIKey, want Micros) (Micros, []hold, error) {
	bs := make([]*balance, len(chain))
	for i, c := range chain {
		bs[i] = sb.get(c.Hash)
	}
	tried := make([]bool, len(chain))  // an acquisition for the key ended during this call
	failed := make([]bool, len(chain)) // and it could not reach the store
	// attempt counts this call's own acquisitions, not its waits for
	// those of concurrent requests.
	for attempt := 0; ; {
		now := sb.now()
		p := PeriodsAt(now)
		unlock := lockAll(bs)
		var need []int
		var wait chan struct{}
		for i, c := range chain {
			l := &bs[i].lease
			w := window(c, p)
			if !l.usable(c, w, now) {
				l.left = 0
			}
			switch {
			case l.busy != nil:
				wait = l.busy
			case tried[i] || attempt == leaseAttempts:
			case l.left < want && now.Before(l.retryAt) && sameBudget(l.key, c):
				// The store was asked a moment ago and had nothing:
				// refused without asking again.
				tried[i], failed[i] = true, l.unreachable
			case l.left < want || (l.held > 0 && !now.Before(l.renewAt)):
				need = append(need, i)
			}
		}
		if wait != nil {
			unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			}
			// Another acquisition ended: what it left is looked at
			// again, and asked for again if it cannot cover want (the
			// attempts stay bounded), so that concurrent requests are
			// not refused while the limit has room.
			continue
		}
		if len(need) == 0 {
			amount, holds, err := takeLeased(chain, bs, want, failed, now)
			unlock()
			return amount, holds, err
		}
		busy := make(chan struct{})
		reqs := make([]LeaseRequest, len(need))
		for j, i := range need {
			c, l := chain[i], &bs[i].lease
			l.busy = busy
			r := LeaseRequest{Key: c, Window: window(c, p), TTL: sb.leaseTTL}
			if l.id != 0 && l.window.Period == r.Window.Period && l.window.Start.Equal(r.Window.Start) {
				// What it has left only counts while it is usable: a
				// lease granted under another limit starts over from
				// what is held.
				r.ID, r.Keep = l.id, l.held+l.left
			}
			if l.left < want {
				r.Want = max(want, *c.Limit/leaseSlices) - l.left
			}
			reqs[j] = r
		}
		unlock()
		attempt++
		// Other requests wait for this answer: it is not given up when
		// this request's client goes away.
		leases, err := sb.acquire(reqs)
		stale := errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)
		unlock = lockAll(bs)
		for j, i := range need {
			l := &bs[i].lease
			l.busy = nil
			tried[i] = true
			l.retryAt, l.unreachable = time.Time{}, false
			if stale {
				continue
			}
			if err != nil {
				failed[i] = true
				l.retryAt, l.unreachable = now.Add(leaseRetry), true
				continue
			}
			l.apply(reqs[j], leases[j])
			sb.granted(l, now)
			if l.left < want {
				l.retryAt = now.Add(leaseRetry)
			}
		}
		unlock()
		close(busy)
		switch {
		case stale:
			return 0, nil, errStaleKey
		case ctx.Err() != nil:
			return 0, nil, ctx.Err()
		case err != nil:
			err = fmt.Errorf("acquire leases: %w: %w", errUnavailable, err)
			if !allLeft(bs) {
				return 0, nil, err
			}
		}
		sb.startSweeper()
	}
}

// allLeft reports whether every balance of bs has some lease left.
func allLeft(bs []*balance) bool {
	for _, b := range bs {
		b.mu.Lock()
		left := b.lease.left
		b.mu.Unlock()
		if left <= 0 {
			return false
		}
	}
	return true
}

// takeLeased holds min(want, the smallest lease left) on every balance of
// bs, which are locked, or refuses when a lease is empty.
func takeLeased(chain []*APIKey, bs []*balance, want Micros, failed []bool, now time.Time) (Micros, []hold, error) {
	amount, short := want, -1
	for i, c := range chain {
		left := bs[i].lease.left
		if left <= 0 && failed[i] {
			return 0, nil, errUnavailable
		}
		if left <= 0 {
			return 0, nil, refusal(c)
		}
		if left < amount {
			amount, short = left, i
		}
	}
	if short >= 0 && anyClamped(bs) {
		if failed[short] {
			return 0, nil, errUnavailable
		}
		return 0, nil, refusal(chain[short])
	}
	return amount, takeHolds(bs, amount, short >= 0, func(b *balance) int64 {
		l := &b.lease
		l.left -= amount
		l.held += amount
		l.used = now
		return l.id
	}), nil
}

// keyChanged stops spending from the lease of the key with hash: it was
// updated or deleted, perhaps on another replica. The sweeper gives the
// lease back; the next reservation asks for one under the key as it is
// now.
func (sb *spendBook) keyChanged(hash string) {
	if b := sb.lookup(hash); b != nil {
		b.mu.Lock()
		b.lease.stale, b.lease.left, b.lease.retryAt = true, 0, time.Time{}
		b.mu.Unlock()
	}
}

// allChanged is keyChanged for every key: changes may have been missed.
func (sb *spendBook) allChanged() {
	sb.mu.Lock()
	bs := make([]*balance, 0, len(sb.m))
	for _, b := range sb.m {
		bs = append(bs, b)
	}
	sb.mu.Unlock()
	for _, b := range bs {
		b.mu.Lock()
		b.lease.stale, b.lease.left, b.lease.retryAt = true, 0, time.Time{}
		b.mu.Unlock()
	}
}

// startSweeper starts the sweeper goroutine unless it runs. It ends by
// itself when no lease is left, so a Service needs no Close.
func (sb *spendBook) startSweeper() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.sweeping {
		return
	}
	sb.sweeping = true
	go sb.sweep()
}

// sweep gives back, every leaseSweep, the leases that nothing holds and
// that went unused for leaseIdle or are stale, and renews those that
// reservations hold past renewAt, so that a long request's hold stays
// counted; a stale one is shrunk to what is held. Each round is at most
// two writes, whatever the number of leases.
func (sb *spendBook) sweep() {
	t := time.NewTicker(leaseSweep)
	defer t.Stop()
	for range t.C {
		now := sb.now()
		var give []LeaseDraw
		var renew []LeaseRequest
		var renewed []*balance
		sb.mu.Lock()
		leases := 0
		for _, b := range sb.m {
			b.mu.Lock()
			l := &b.lease
			if l.id != 0 {
				leases++
			}
			if l.id != 0 && l.busy == nil {
				switch {
				case l.held == 0 && (l.stale || (l.tight && now.Sub(l.used) >= leaseIdle) || !now.Before(l.deadline)):
					give = append(give, LeaseDraw{ID: l.id})
					*l = leaseState{}
				case l.stale && !l.shrunk:
					give = append(give, LeaseDraw{ID: l.id, Micros: l.held})
					l.shrunk = true
				case l.held > 0 && !now.Before(l.renewAt):
					renew = append(renew, LeaseRequest{Key: l.key, Window: l.window, ID: l.id, Keep: l.held + l.left, TTL: sb.leaseTTL})
					renewed = append(renewed, b)
					l.busy = make(chan struct{})
				}
			}
			b.mu.Unlock()
		}
		if leases == 0 {
			sb.sweeping = false
			sb.mu.Unlock()
			return
		}
		sb.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), leaseSweep)
		// Failures are left to the leases' expiry: a lease not given
		// back lapses, and one not renewed makes its holds count for
		// nothing after the lease's TTL (the documented bound).
		sb.leases.ReturnLeases(ctx, give)
		if len(renew) > 0 {
			got, err := sb.leases.AcquireLeases(ctx, renew)
			for i, b := range renewed {
				b.mu.Lock()
				l := &b.lease
				switch {
				case err == nil:
					l.apply(renew[i], got[i])
					sb.granted(l, now)
				case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound):
					// A key changed since: the next reservation asks
					// for a lease under the key as it is now.
					l.stale, l.left = true, 0
				}
				close(l.busy)
				l.busy = nil
				b.mu.Unlock()
			}
		}
		cancel()
	}
}

// grantQueue holds the acquisitions of requests that wait for the one
// under way, so that they are asked together: when many keys need a lease
// at once (a replica starting, or traffic coming back after the leases
// went idle), the database sees a few grants, not one per key.
type grantQueue struct {
	mu      sync.Mutex
	queue   []*grantReq
	running bool // a goroutine runs grantLoop
}

// grantReq is one acquisition: the leases of one chain's keys.
type grantReq struct {
	reqs   []LeaseRequest
	leases []Lease
	err    error
	done   chan struct{} // closed when leases and err are set
}

// acquire asks the store for reqs, together with the other acquisitions
// queued while one is under way, and returns their leases. Its answer is
// the one AcquireLeases gives a chain alone: a batch the store refuses
// for one chain's stale or deleted key is asked again chain by chain.
func (sb *spendBook) acquire(reqs []LeaseRequest) ([]Lease, error) {
	g := &grantReq{reqs: reqs, done: make(chan struct{})}
	q := &sb.grants
	q.mu.Lock()
	q.queue = append(q.queue, g)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go sb.grantLoop()
	}
	<-g.done
	return g.leases, g.err
}

// grantLoop asks for the queued acquisitions, all of them in one
// AcquireLeases, until none is queued.
func (sb *spendBook) grantLoop() {
	q := &sb.grants
	for {
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		sb.grant(batch)
	}
}

// grant asks for batch and sets each acquisition's answer.
func (sb *spendBook) grant(batch []*grantReq) {
	ctx, cancel := context.WithTimeout(context.Background(), leaseAcquireTimeout)
	defer cancel()
	sb.ask(ctx, batch)
	for _, g := range batch {
		close(g.done)
	}
}

// ask asks for batch in one AcquireLeases (one transaction: the keys of
// a process's acquisitions in flight are all different, as each key has
// one at a time). A batch refused for a stale or deleted key, which the
// store does not name, is asked again in halves, so that the others are
// granted in a few more writes and the key's own acquisition gets the
// refusal.
func (sb *spendBook) ask(ctx context.Context, batch []*grantReq) {
	var all []LeaseRequest
	for _, g := range batch {
		all = append(all, g.reqs...)
	}
	leases, err := sb.leases.AcquireLeases(ctx, all)
	if stale := errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound); stale && len(batch) > 1 {
		sb.ask(ctx, batch[:len(batch)/2])
		sb.ask(ctx, batch[len(batch)/2:])
		return
	}
	for _, g := range batch {
		if err != nil {
			g.err = err
			continue
		}
		g.leases, leases = leases[:len(g.reqs)], leases[len(g.reqs):]
	}
}
