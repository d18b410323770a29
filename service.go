package keygate

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Config holds the Service's settings. The zero value is not valid; use
// DefaultConfig and change what is needed.
type Config struct {
	KeyPrefix   string        // prefix of minted keys, e.g. "sk-kg-"
	CodeTTL     time.Duration // how long an authorization code is valid
	RequirePKCE bool          // refuse codes without a code_challenge
	// KeyCacheSize bounds the in-process key cache (entries); KeyCacheTTL
	// bounds how stale an entry may be if an invalidation is missed.
	KeyCacheSize int
	KeyCacheTTL  time.Duration
	// UsageCacheTTL bounds how stale the usage that GET /api/v1/key
	// reports may be when it was recorded by another process or replica;
	// usage recorded through this Service is seen at once, and a cached
	// usage never outlives the UTC day it was read in. 0 reads the store
	// on every call.
	UsageCacheTTL time.Duration
	// UnknownKeyTTL is how long a well-formed key that the store does not
	// know is refused from memory, without asking the store again: a
	// flood of one unknown key costs one store read per UnknownKeyTTL
	// (requests for one key that miss together share one read). A key's
	// secret is shown only once the key is stored, so no key in use was
	// ever unknown unless someone presented its secret before it existed.
	// At most 65,536 unknown keys are remembered, apart from the key
	// cache. 0 asks the store every time.
	UnknownKeyTTL time.Duration
	// SessionTTL is how long a browser login lasts; <= 0 is the default's.
	SessionTTL time.Duration
	// BalanceTTL bounds how long Reserve trusts the usage of a key with a
	// limit that it holds in memory before reading it from the store
	// again: how late spending recorded by another process on the store
	// is seen. Spending settled through this Service is seen at once.
	BalanceTTL time.Duration
	// LeaseTTL is how long a budget lease lasts on a store shared by
	// replicas (docs/spending.md, "PostgreSQL: budget leases"); 0 is DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Signup is who may create an account without the operator's command
	// line; "" is SignupClosed (signup.go).
	Signup SignupPolicy
	// TokenIssuer is the iss and aud of the access tokens the token
	// exchange issues (keygate serve: its public URL); "" is
	// DefaultTokenIssuer.
	TokenIssuer string
}

// DefaultConfig returns the defaults documented for `keygate serve`.
func DefaultConfig() Config {
	return Config{
		KeyPrefix:    DefaultKeyPrefix,
		CodeTTL:      10 * time.Minute,
		KeyCacheSize: 1 << 20,
		KeyCacheTTL:  30 * time.Second,
		SessionTTL:   7 * 24 * time.Hour,
		// As long as a key is trusted: the same bound on what another
		// replica's changes may take to show.
		UsageCacheTTL: 30 * time.Second,
		UnknownKeyTTL: 2 * time.Second,
		BalanceTTL:    time.Second,
		LeaseTTL:      DefaultLeaseTTL,
	}
}

// Service enforces keygate's rules on top of a Store. It is safe for
// concurrent use.
type Service struct {
	store Store
	cfg   Config
	now   func() time.Time
	log   *slog.Logger
	keys  *keyCache
	// loads lets one store read per key hash run at a time: the requests
	// that miss the cache for one key together share it.
	loads singleflight.Group
	// background runs the reloads of cached keys ahead of their expiry: a
	// goroutine each (tests run them in line).
	background func(func())
	spend      *spendBook
	apps       *boundedMap[int64] // see appCacheSize
	// defaults maps a user's id to the id of their default workspace,
	// which never changes: a user keeps it from creation on, and it
	// cannot be deleted.
	defaults *boundedMap[string]
	// federationKeys maps a key's hash to whether it is a federation
	// policy's key (refuseFederationKey).
	federationKeys *boundedMap[bool]
	// codes holds the codes this process made, until their exchange
	// (newCodesSize).
	codes *boundedMap[*AuthCode]
	// inFlight counts the reservations held (Reserve to Settle or
	// Release): Charge.InFlight.
	inFlight atomic.Int64
	// credits caches users' balances for admission (credits.go).
	credits *creditBook
	// budgets caches the budgets of workspaces (budget.go).
	budgets *budgetCache
	// policies caches the keys' effective guardrail policies (policy.go).
	policies *policyCache
	hasher   PasswordHasher
	obs      Observer
	// hashes bounds the password hashes running at once; logins counts
	// failed sign-ins per email (backoff.go).
	hashes *workGate
	logins *loginBackoff
	// Workload identity federation (federation.go, accesstoken.go,
	// tokenexchange.go): how subject tokens are verified, keygate's
	// signing keys, and the access tokens verified already.
	subjects SubjectTokenVerifier
	signer   signer
	tokens   *tokenCache
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces time.Now, so tests can stand on period boundaries.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger for audit lines (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithPasswordHasher replaces the argon2id hasher (tests use cheaper
// parameters).
func WithPasswordHasher(h PasswordHasher) Option { return func(s *Service) { s.hasher = h } }

// NewService returns a Service over store.
func NewService(store Store, cfg Config, opts ...Option) *Service {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultConfig().SessionTTL
	}
	s := &Service{store: store, cfg: cfg, now: time.Now, log: slog.Default(), hasher: DefaultPasswordHasher,
		obs: nopObserver{}, hashes: newHashGate(), logins: newLoginBackoff(),
		background: func(f func()) { go f() }}
	for _, o := range opts {
		o(s)
	}
	s.keys = newKeyCache(cfg.KeyCacheSize, cfg.KeyCacheTTL, cfg.UsageCacheTTL, cfg.UnknownKeyTTL)
	s.spend = newSpendBook(store, s.Now, cfg.BalanceTTL, cfg.LeaseTTL, max(cfg.KeyCacheSize, 1))
	s.apps = newBoundedMap[int64](appCacheSize)
	s.defaults = newBoundedMap[string](defaultsCacheSize)
	s.federationKeys = newBoundedMap[bool](federationKeysSize)
	s.codes = newBoundedMap[*AuthCode](newCodesSize)
	s.credits = newCreditBook(min(cfg.KeyCacheTTL, maxCreditTTL), max(cfg.KeyCacheSize, 1))
	s.budgets = newBudgetCache(max(cfg.KeyCacheSize, 1))
	s.policies = newPolicyCache(max(cfg.KeyCacheSize, 1))
	s.tokens = newTokenCache(max(cfg.KeyCacheSize, 1))
	return s
}

// Config returns the service's configuration, SessionTTL filled in.
func (s *Service) Config() Config { return s.cfg }

// Now returns the service clock's current time in UTC.
func (s *Service) Now() time.Time { return s.now().UTC() }

type ctxKey int

const clientIPKey ctxKey = iota

// WithClientIP returns a context carrying the client's IP address, which
// audit events record.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey, ip)
}

// ClientIP returns the IP stored by WithClientIP, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

// audit records e in the store and as a structured log line. A failure to
// store the event is logged, not returned: the action it describes has
// already happened. An action the store writes in one transaction with its
// audit event (a code created or exchanged, a sign-in) takes the event
// from auditEvent instead and calls audited once the store has committed.
func (s *Service) audit(ctx context.Context, e AuditEvent) {
	ev := s.auditEvent(ctx, e)
	s.audited(ctx, ev)
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("audit: store", "action", ev.Action, "err", err)
	}
}

// auditEvent returns e stamped with the time and the client IP, ready for
// the store.
func (s *Service) auditEvent(ctx context.Context, e AuditEvent) *AuditEvent {
	e.CreatedAt = s.Now()
	e.ClientIP = ClientIP(ctx)
	return &e
}

// audited logs e and counts it.
func (s *Service) audited(ctx context.Context, e *AuditEvent) {
	attrs := []any{"action", e.Action, "actor", e.ActorUserID, "key", e.KeyHashPrefix, "client_ip", e.ClientIP}
	if e.AppID != nil {
		attrs = append(attrs, "app_id", *e.AppID)
	}
	if e.Detail != "" {
		attrs = append(attrs, "detail", e.Detail)
	}
	s.log.InfoContext(ctx, "audit", attrs...)
	s.obs.Audited(e.Action)
}

// hashPrefix is the part of a key hash that audit events and logs show.
func hashPrefix(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
