package keygate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReservation is what Reserve holds for a request whose caller
// names no amount (want <= 0): one US cent, clamped to the room left like
// any reservation.
const DefaultReservation Micros = 10_000

// Reservation is money held for one request in flight, from Reserve until
// Settle or Release. Its methods are safe on a nil *Reservation and for
// concurrent use.
type Reservation struct {
	s      *Service
	key    *APIKey
	hashes []string // key and its delegation ancestors, key first
	// guardrails are the counter names of the key's guardrails, which
	// its charge adds to (policy.go).
	guardrails []string
	holds      []hold // on the balances of those with a limit
	amount     Micros
	done       atomic.Bool // released, by Settle or Release
	// id is the generation id of the request (GenerationID), made on
	// first use; idOffered is set once a Settle has given it to the store.
	idMu      sync.Mutex
	id        string
	idOffered bool
}

// GenerationID returns the id Settle gives r's generation when the caller
// leaves it empty (the gateway does for an answer without a usable id of
// the upstream's): made once per reservation (newGenerationID), so that a
// caller may know it before the charge. "" for a nil r.
func (r *Reservation) GenerationID() string {
	if r == nil {
		return ""
	}
	r.idMu.Lock()
	defer r.idMu.Unlock()
	if r.id == "" {
		r.id = newGenerationID(r.s.Now())
	}
	return r.id
}

// offerID reports whether id, about to be given to the store, is r's own
// id (GenerationID) given for the first time: new to the store. An id r
// never made, or made and given before, is not. False for a nil r.
func (r *Reservation) offerID(id string) bool {
	if r == nil {
		return false
	}
	r.idMu.Lock()
	defer r.idMu.Unlock()
	if r.id == "" || id != r.id || r.idOffered {
		return false
	}
	r.idOffered = true
	return true
}

// Key returns the key the reservation was made for.
func (r *Reservation) Key() *APIKey {
	if r == nil {
		return nil
	}
	return r.key
}

// Amount returns the micro-dollars held: 0 when no key of the chain has a
// limit, else at least 1.
func (r *Reservation) Amount() Micros {
	if r == nil {
		return 0
	}
	return r.amount
}

// Release gives back r without a charge (the upstream produced nothing).
// It is a no-op after Settle or a second Release, and on nil.
func (r *Reservation) Release() {
	r.release(0)
}

// release gives back r's holds, of which spent was charged. Only the
// first call gives holds back; a charge settled after that (a second Settle,
// after one that failed) still comes out of the leases the holds were
// taken from.
func (r *Reservation) release(spent Micros) {
	if r == nil {
		return
	}
	first := r.done.CompareAndSwap(false, true)
	if first {
		r.s.inFlight.Add(-1)
	}
	for _, h := range r.holds {
		if first {
			r.s.spend.release(h, r.amount, spent)
		} else if spent > 0 {
			r.s.spend.release(h, 0, spent)
		}
	}
}

// Reserve admits one request by k, a key that Authenticate returned, and
// holds up to want micro-dollars for it, so that concurrent requests
// cannot spend the same room (see docs/spending.md). want <= 0 holds
// DefaultReservation.
//
// k and every delegation ancestor are checked: disabled, expired or gone is
// EUNAUTHORIZED, as for Authenticate; a management key is EFORBIDDEN
// MsgManagementSpend (it only manages keys). Then the user's credit balance: one
// that is used up is EPAYMENT MsgInsufficientCredits (402, credits.go);
// an account the operator never granted credits to has no balance. For each of them that has a limit,
// the room is its limit minus its usage in the limit's window (UTC day, ISO
// week, UTC month, or all time) minus what requests in flight hold; usage
// equal to the limit, a limit of 0, or no room left is EFORBIDDEN "Key
// limit exceeded (<daily|weekly|monthly|total> limit)" naming that key's
// window. The amount held is min(want, the smallest room), so a key with a
// little room left stays usable for small requests; while one such
// clamped reservation of a key is in flight in this process, another that
// would be clamped is refused the same way, which bounds the overshoot
// (docs/spending.md, "The overshoot bound").
//
// EUNAVAILABLE when the budget cannot be read from the store (on
// PostgreSQL: a new lease is needed and the database does not answer).
// The caller's context ending is returned as its error.
func (s *Service) Reserve(ctx context.Context, k *APIKey, want Micros) (*Reservation, error) {
	if err := checkSpender(k, s.Now()); err != nil {
		return nil, err
	}
	if want <= 0 {
		want = DefaultReservation
	}
	r, err := s.reserve(ctx, k, want)
	if errors.Is(err, errStaleKey) {
		// The store holds a newer version of a key of the chain than the
		// caches did: read them again, and decide on those.
		for _, h := range r.chain() {
			s.InvalidateKey(h)
		}
		s.budgetsChanged(k.WorkspaceID)
		s.policies.drop(k.Hash)
		if k, err = s.activeKey(ctx, k.Hash); err != nil {
			return nil, err
		}
		r, err = s.reserve(ctx, k, want)
	}
	if err != nil {
		s.observeRefusal(err)
		return nil, err
	}
	s.inFlight.Add(1)
	return r, nil
}

// reserve is one attempt of Reserve. With errStaleKey, it returns the
// reservation it did not make, for its chain.
func (s *Service) reserve(ctx context.Context, k *APIKey, want Micros) (*Reservation, error) {
	ancestors, err := s.activeAncestors(ctx, k)
	if err != nil {
		return nil, err
	}
	if err := s.checkCredits(ctx, k.UserID); err != nil {
		return nil, err
	}
	r := &Reservation{s: s, key: k, hashes: make([]string, 0, len(ancestors)+1)}
	var limited []*APIKey
	for _, c := range append([]*APIKey{k}, ancestors...) {
		if slices.Contains(r.hashes, c.Hash) {
			continue
		}
		r.hashes = append(r.hashes, c.Hash)
		if c.Limit != nil {
			limited = append(limited, c)
		}
	}
	budgets, err := s.workspaceBudgets(ctx, k.WorkspaceID)
	if err != nil {
		return nil, err
	}
	policy, err := s.policyOf(ctx, k)
	if err != nil {
		return nil, err
	}
	r.guardrails = policy.counters
	limited = append(limited, budgets...)
	limited = append(limited, policy.limits...)
	if len(limited) == 0 {
		return r, nil
	}
	amount, holds, err := s.spend.reserve(ctx, limited, want)
	if errors.Is(err, errStaleKey) {
		return r, err
	}
	if err != nil {
		return nil, err
	}
	r.amount, r.holds = amount, holds
	return r, nil
}

// Settle charges g.Cost for the request that r was held for, and releases
// r. The charge goes to g.KeyHash and every delegation ancestor (those of
// r's key, or of g.KeyHash when r is nil: a charge reported without a
// reservation), in the usage periods containing g.CreatedAt (zero: now),
// to the BYOK sums when g.BYOK, and to the account's counter of g.UserID
// (AccountCounter) and the daily rollups of its app and user. g is stored, so Generation finds it at
// once. g.KeyHash, g.UserID and g.WorkspaceID are taken from r's key (or,
// without r, from g.KeyHash's key if it exists) when empty, and an empty
// g.ID becomes r.GenerationID() (without r, a new id).
//
// Settle returns once the charge is durable in the store: committed, or
// on SQLite in its charge journal, which a restart commits
// (docs/spending.md). A g.ID that
// is stored already charges nothing. Without a reservation (r nil: usage
// reported by the caller, who may send it again), that is a retry and
// Settle returns nil. With one, the id the caller named is another
// request's: Settle returns ECONFLICT and keeps r held, so the caller can
// settle again under r's own id (g.ID empty) and the answer is never free. The cost may exceed what r held; it is charged in full, so a
// key may end past its limit by the bound docs/spending.md states. After
// Settle returns, KeyInfo on this Service shows the new usage.
//
// Errors: ECONFLICT as above; EINVALID naming the field for an id that is
// not 1 to 256 visible ASCII characters, no key_hash, or a negative cost
// or token count, and r is released. A store failure is returned as it
// is: nothing was charged, and r is released.
func (s *Service) Settle(ctx context.Context, r *Reservation, g *Generation) error {
	_, err := s.settle(ctx, r, g)
	return err
}

// settle is Settle, and reports whether this call charged g (false for a
// g.ID charged before).
func (s *Service) settle(ctx context.Context, r *Reservation, g *Generation) (charged bool, err error) {
	var spent Micros
	held := false // r stays held for another Settle
	defer func() {
		if !held {
			r.release(spent)
		}
	}()
	k := r.Key()
	if k != nil && g.KeyHash == "" {
		g.KeyHash = k.Hash
	}
	if k == nil && g.KeyHash != "" && (g.UserID == "" || g.WorkspaceID == "") {
		// A charge reported without a reservation: the key, if it still
		// exists, says whose it is.
		k, _ = s.cachedKey(ctx, g.KeyHash)
	}
	if k != nil && k.Hash == g.KeyHash {
		if g.UserID == "" {
			g.UserID = k.UserID
		}
		if g.WorkspaceID == "" {
			g.WorkspaceID = k.WorkspaceID
		}
	}
	// An id made here is new to the store the first time it is offered:
	// the store need not look it up (Charge.NewID).
	var newID bool
	switch {
	case g.ID == "" && r == nil:
		g.ID, newID = newGenerationID(s.Now()), true
	case g.ID == "":
		g.ID = r.GenerationID()
		newID = r.offerID(g.ID)
	default:
		newID = r.offerID(g.ID) // the caller may name r's own id
	}
	if !validGenerationID(g.UpstreamID) {
		g.UpstreamID = ""
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.Now()
	}
	g.CreatedAt = g.CreatedAt.UTC()
	if err := checkGeneration(g); err != nil {
		return false, err
	}
	hashes := r.chain()
	if hashes == nil || hashes[0] != g.KeyHash {
		var err error
		if hashes, err = s.chainHashes(ctx, g.KeyHash); err != nil {
			return false, err
		}
	}
	guardrails := r.guardrailCounters()
	if r == nil {
		// A charge reported without a reservation: the key's guardrails,
		// if it still exists.
		if k, err := s.cachedKey(ctx, g.KeyHash); err == nil {
			p, err := s.policyOf(ctx, k)
			if err != nil {
				return false, err
			}
			guardrails = p.counters
		}
	}
	p := PeriodsAt(g.CreatedAt)
	// Four counters per key of the chain and per guardrail, the account's
	// one and the workspace's four.
	add := make([]UsageCounter, 0, 4*(len(hashes)+len(guardrails))+5)
	for _, h := range hashes {
		for _, c := range Counters(h, p) {
			if g.BYOK {
				c.BYOKMicros = g.Cost
			} else {
				c.Micros = g.Cost
			}
			add = append(add, c)
		}
	}
	if g.UserID != "" {
		// The account's counter, which a credit balance is measured
		// against (credits.go).
		a := UsageCounter{KeyHash: AccountCounter(g.UserID), Period: PeriodTotal, Start: epoch}
		if g.BYOK {
			a.BYOKMicros = g.Cost
		} else {
			a.Micros = g.Cost
		}
		add = append(add, a)
	}
	if g.WorkspaceID != "" {
		// Every charge counts in its workspace's budget windows, whether
		// the workspace has budgets now or not.
		ws := workspaceCounters(g.WorkspaceID, p, g.Cost, g.BYOK)
		add = append(add, ws[:]...)
	}
	for _, h := range guardrails {
		for _, c := range Counters(h, p) {
			if g.BYOK {
				c.BYOKMicros = g.Cost
			} else {
				c.Micros = g.Cost
			}
			add = append(add, c)
		}
	}
	c := &Charge{Generation: g, Counters: add, NewID: newID, InFlight: int(s.inFlight.Load())}
	c.AppDay, c.UserDay = RollupsOf(g)
	if r != nil {
		for _, h := range r.holds {
			if h.lease != 0 {
				c.Leases = append(c.Leases, LeaseDraw{ID: h.lease, Micros: g.Cost})
			}
		}
	}
	charged, sums, err := s.store.RecordGeneration(ctx, c)
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", errUnavailable, err)
		}
		return false, fmt.Errorf("record generation: %w", err)
	}
	if !charged && r != nil {
		held = true
		return false, Errorf(ECONFLICT, "id %q is another generation's", g.ID)
	}
	if charged {
		s.obs.Charged(g)
		spent = g.Cost
		// Before r's hold goes (the deferred Release), so that the room
		// never looks larger than it is.
		s.spend.observe(sums)
		s.credits.observe(sums)
		for _, h := range hashes {
			s.keys.dropUsage(h)
		}
	}
	return charged, nil
}

// guardrailCounters returns the counter names of r's key's guardrails,
// nil for a nil r.
func (r *Reservation) guardrailCounters() []string {
	if r == nil {
		return nil
	}
	return r.guardrails
}

// chain returns the hashes r was held for, nil for a nil r.
func (r *Reservation) chain() []string {
	if r == nil {
		return nil
	}
	return r.hashes
}

// checkGeneration checks what Settle stores of g.
func checkGeneration(g *Generation) error {
	switch {
	case !validGenerationID(g.ID):
		return Errorf(EINVALID, "id must be 1 to %d visible ASCII characters", maxGenerationID)
	case g.KeyHash == "":
		return Errorf(EINVALID, "key_hash is required")
	case g.Cost < 0:
		return Errorf(EINVALID, "cost must be >= 0")
	case g.UpstreamInferenceCost < 0:
		return Errorf(EINVALID, "upstream_inference_cost must be >= 0")
	case g.PromptTokens < 0:
		return Errorf(EINVALID, "prompt_tokens must be >= 0")
	case g.CompletionTokens < 0:
		return Errorf(EINVALID, "completion_tokens must be >= 0")
	case g.ReasoningTokens < 0:
		return Errorf(EINVALID, "reasoning_tokens must be >= 0")
	case g.CachedTokens < 0:
		return Errorf(EINVALID, "cached_tokens must be >= 0")
	}
	return nil
}

// validGenerationID reports whether id is 1 to maxGenerationID visible
// ASCII characters.
func validGenerationID(id string) bool {
	return id != "" && len(id) <= maxGenerationID && strings.IndexFunc(id, func(c rune) bool { return c <= ' ' || c > '~' }) < 0
}

// newGenerationID returns a new generation id in OpenRouter's form:
// "gen-", now in Unix seconds, "-" and 32 random hex digits (128 bits, so
// that no two are ever equal). Ids made later sort later, to the second:
// a store's index of them grows at its end.
func newGenerationID(now time.Time) string {
	var b [16]byte
	rand.Read(b[:])
	return "gen-" + strconv.FormatInt(now.Unix(), 10) + "-" + hex.EncodeToString(b[:])
}

// limitExceeded is the 403 a key past its limit gets (limitErrors).
func limitExceeded(r LimitReset) *Error { return limitErrors[r] }
