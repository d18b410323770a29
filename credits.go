package keygate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CreditGrant is one entry of the credits ledger: an amount the operator
// granted to a user (keygate credits grant). The ledger is append-only; a
// user's credits are the sum of their grants.
type CreditGrant struct {
	ID        int64
	UserID    string
	Amount    Micros // >= 0
	Note      string // the operator's note, at most 200 code points
	CreatedAt time.Time
}

// Credits is a user's account balance as GET /api/v1/credits reports it
// (OpenRouter spec path GET /credits): what was granted and what was
// spent, in micro-dollars.
type Credits struct {
	// Granted is the sum of the user's grants; nil when the operator never
	// granted the user anything: the account is unlimited, and only its
	// keys' own limits apply.
	Granted *Micros
	// Used is the user's all-time spending on every key, BYOK excluded
	// (the account's counter, AccountCounter).
	Used Micros
}

// Exhausted reports whether the account may not spend: it has a balance
// and its usage has reached it (usage equal to the credits is refused,
// the boundary rule of every limit).
func (c Credits) Exhausted() bool { return c.Granted != nil && c.Used >= *c.Granted }

// UnlimitedCreditsUSD is what GET /api/v1/credits reports as
// total_credits for an account without a balance (one the operator never
// granted credits to): the SDK requires a number, and this one is far
// beyond any usage, so that an app showing the balance left shows a
// large one rather than none.
const UnlimitedCreditsUSD = 1e9

// MsgInsufficientCredits is the 402 of a request by a user whose credit
// balance is used up; OpenRouter's starts the same way.
const MsgInsufficientCredits = "Insufficient credits. This account's credit balance is used up; the operator can grant more"

var errInsufficientCredits = &Error{Code: EPAYMENT, Message: MsgInsufficientCredits}

// Limits of a grant.
const maxGrantNote = 200

// GrantCredits appends a grant of amountUSD (a decimal number of USD, at
// most six places, from 0 to MaxLimitUSD) with note to the ledger of the
// user with email, and returns it. The user's first grant gives the
// account a balance, which the gateway and GET /api/v1/auth/verify then
// enforce (402); a grant of 0 does that without adding to it. A grant
// takes effect at once on every process that follows the store's changes
// (FollowChanges).
//
// Errors: EINVALID naming amount or note; ENOTFOUND when no user has
// email.
func (s *Service) GrantCredits(ctx context.Context, email, amountUSD, note string) (*CreditGrant, error) {
	usd, err := strconv.ParseFloat(strings.TrimSpace(amountUSD), 64)
	if err != nil {
		return nil, Errorf(EINVALID, "amount must be a number of USD")
	}
	amount, err := MicrosFromUSD("amount", usd)
	if err != nil {
		return nil, err
	}
	note = strings.TrimSpace(note)
	if err := CheckText("note", note, maxGrantNote); err != nil {
		return nil, err
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	g := &CreditGrant{UserID: u.ID, Amount: amount, Note: note, CreatedAt: s.Now()}
	if err := s.store.AddCreditGrant(ctx, g); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(ENOTFOUND, "no user with this email")
		}
		return nil, fmt.Errorf("add credit grant: %w", err)
	}
	s.credits.drop(u.ID)
	s.audit(ctx, AuditEvent{Action: AuditCreditsGranted, ActorUserID: u.ID,
		Detail: fmt.Sprintf("amount_usd=%s", strconv.FormatFloat(amount.USD(), 'f', -1, 64))})
	return g, nil
}

// CreditGrants returns the ledger of the user with email, oldest first.
// ENOTFOUND when no user has email.
func (s *Service) CreditGrants(ctx context.Context, email string) ([]*CreditGrant, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	gs, err := s.store.CreditGrants(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("credit grants: %w", err)
	}
	return gs, nil
}

// Credits returns the balance of the user with userID, read from the
// store (OpenRouter spec path GET /credits).
func (s *Service) Credits(ctx context.Context, userID string) (Credits, error) {
	c, err := s.readCredits(ctx, userID)
	if err != nil {
		return Credits{}, err
	}
	return c, nil
}

// readCredits reads a user's grants and account counter from the store.
func (s *Service) readCredits(ctx context.Context, userID string) (Credits, error) {
	var c Credits
	gs, err := s.store.CreditGrants(ctx, userID)
	if err != nil {
		return c, fmt.Errorf("credit grants: %w", err)
	}
	if len(gs) > 0 {
		var sum Micros
		for _, g := range gs {
			sum += g.Amount
		}
		c.Granted = &sum
	}
	want := UsageCounter{KeyHash: AccountCounter(userID), Period: PeriodTotal, Start: epoch}
	rows, err := s.store.UsageCounters(ctx, want.KeyHash, []UsageCounter{want})
	if err != nil {
		return c, fmt.Errorf("usage counters: %w", err)
	}
	for _, r := range rows {
		if r.Period == PeriodTotal {
			c.Used = max(c.Used, r.Micros)
		}
	}
	return c, nil
}

// checkCredits refuses, with 402 MsgInsufficientCredits, a request by a
// user whose balance is used up. It reads the balance from memory
// (creditBook) and asks the store only for a user it has not seen within
// the cache's time, or whose grants or spending another process changed.
// EUNAVAILABLE when the store cannot be read.
func (s *Service) checkCredits(ctx context.Context, userID string) error {
	now := s.Now()
	c, gen, ok := s.credits.get(userID, now)
	if !ok {
		var err error
		if c, err = s.readCredits(ctx, userID); err != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", errUnavailable, err)
			}
			return err
		}
		s.credits.put(userID, c, now, gen)
	}
	if c.Exhausted() {
		return errInsufficientCredits
	}
	return nil
}

// maxCreditTTL bounds how long a cached balance is trusted, whatever
// Config.KeyCacheTTL: on SQLite spending by a second server on the same
// file is not announced, and this bounds how long it goes unseen.
const maxCreditTTL = 30 * time.Second

// creditBook caches users' balances for admission. Spending settled
// through this process raises the cached usage at once (observe); a grant
// or spending announced by another process drops the entry (drop); an
// entry is trusted for at most ttl, the bound when an announcement is
// missed.
type creditBook struct {
	mu  sync.RWMutex
	m   map[string]creditEntry
	gen uint64 // counts drops, so that a read from before one is not kept
	ttl time.Duration
	max int
}

type creditEntry struct {
	c      Credits
	loaded time.Time
	// stale marks a balance that another process has charged since it
	// was read (spent, at staleSince): it is read again once it is
	// accountRefresh old.
	stale      bool
	staleSince time.Time
}

// accountRefresh is how often at most a process reads again the balance of
// an account that other processes keep charging: on PostgreSQL every batch
// of charges announces its accounts, and reading the balance again on each
// would cost a read per request. A spent balance is thus refused on every
// replica within accountRefresh (plus the announcement's delay), and the
// overshoot is what the account's requests cost in that time; a grant is
// seen at once.
const accountRefresh = 250 * time.Millisecond

func newCreditBook(ttl time.Duration, max int) *creditBook {
	return &creditBook{m: make(map[string]creditEntry), ttl: ttl, max: max}
}

func (b *creditBook) get(userID string, now time.Time) (Credits, uint64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	e, ok := b.m[userID]
	if !ok || now.Sub(e.loaded) >= b.ttl || e.stale && now.Sub(e.loaded) >= accountRefresh {
		return Credits{}, b.gen, false
	}
	return e.c, b.gen, true
}

// put stores c, read from now on after get returned gen, unless an entry
// was dropped since. A read that started no later than the charge that
// made the entry stale may not hold it: the entry stays stale.
func (b *creditBook) put(userID string, c Credits, now time.Time, gen uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		return
	}
	e := creditEntry{c: c, loaded: now}
	if old, ok := b.m[userID]; ok && old.stale && !old.staleSince.Before(now) {
		e.stale, e.staleSince = true, old.staleSince
	}
	if _, ok := b.m[userID]; !ok && len(b.m) >= b.max {
		for old := range b.m { // map order is random: a cheap random eviction
			delete(b.m, old)
			break
		}
	}
	b.m[userID] = e
}

func (b *creditBook) drop(userID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, userID)
	b.gen++
}

// spent marks stale the balance of a user charged by another process
// (see accountRefresh), unless the user has no balance: then what they
// spend decides nothing, and a grant is announced on its own
// (ChangeCredits).
func (b *creditBook) spent(userID string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[userID]
	if !ok || e.c.Granted == nil {
		return
	}
	e.stale, e.staleSince = true, now
	b.m[userID] = e
}

func (b *creditBook) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.m)
	b.gen++
}

// observe raises the cached usage of the accounts among sums (the counter
// sums a settlement returned) to those sums.
func (b *creditBook) observe(sums []UsageCounter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range sums {
		userID, ok := strings.CutPrefix(c.KeyHash, accountPrefix)
		if !ok || c.Period != PeriodTotal {
			continue
		}
		if e, ok := b.m[userID]; ok && c.Micros > e.c.Used {
			e.c.Used = c.Micros
			b.m[userID] = e
		}
	}
}

// accountOf returns the user whose account counter hash is, ok false for
// a key's hash.
func accountOf(hash string) (userID string, ok bool) {
	return strings.CutPrefix(hash, accountPrefix)
}
