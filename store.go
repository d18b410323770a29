package keygate

import (
	"context"
	"time"
)

// The store interfaces. Adapters (sqlite, postgres) implement them all and
// pass the storetest conformance suite. Every method takes ctx first, returns
// ErrNotFound for a missing row and ErrConflict for a broken uniqueness or
// state constraint. Times are stored with at least microsecond precision and
// returned in UTC.

// UserStore holds users.
type UserStore interface {
	// CreateUser inserts u (IsAdmin included) together with its default
	// workspace ws, in one transaction. ErrConflict if the email is taken.
	CreateUser(ctx context.Context, u *User, ws *Workspace) error
	User(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns up to limit users, oldest first (ties by id),
	// skipping offset, and the total count.
	ListUsers(ctx context.Context, offset, limit int) ([]*User, int, error)
	// UpdateUser stores u's PasswordHash and Disabled and deletes every
	// session of the user, announcing each (ChangeSession), in one
	// transaction: a changed password or a disabled account signs the
	// user out everywhere. ErrNotFound if there is no user u.ID.
	UpdateUser(ctx context.Context, u *User) error
}

// WorkspaceStore holds workspaces.
type WorkspaceStore interface {
	// CreateWorkspace inserts w. ErrConflict if the user already has its slug.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	Workspace(ctx context.Context, id string) (*Workspace, error)
	DefaultWorkspace(ctx context.Context, userID string) (*Workspace, error)
	// WorkspaceBySlug returns the user's workspace with slug, compared
	// exactly, or ErrNotFound.
	WorkspaceBySlug(ctx context.Context, userID, slug string) (*Workspace, error)
	// ListWorkspaces returns up to limit of a user's workspaces (all when
	// limit <= 0), oldest first, skipping offset, and the total count.
	ListWorkspaces(ctx context.Context, userID string, offset, limit int) ([]*Workspace, int, error)
	// UpdateWorkspace applies p to the workspace with id and returns the
	// workspace as it is after. It writes only the fields that p sets, each
	// computed from the stored row in one atomic UPDATE, so concurrent
	// patches of different fields never undo each other, on one replica or
	// many. p.UpdatedAt is written only when p changes a stored value: a
	// patch that stores what is already there leaves the row, updated_at
	// included, as it was. ErrNotFound if there is no such workspace;
	// ErrConflict, changing nothing, if the user has another workspace
	// with p.Slug.
	UpdateWorkspace(ctx context.Context, id string, p WorkspacePatch) (*Workspace, error)
	// DeleteWorkspace deletes a workspace with its disabled keys (and
	// their usage counters), announces each deleted key as a ChangeKey
	// change, and returns the deleted keys' hashes. ErrConflict, deleting
	// nothing, if it is the user's default or still holds an enabled key
	// (OpenRouter: "Workspaces with active API keys cannot be deleted").
	// The check and the deletes are one transaction in which no key of
	// the workspace can be created or enabled, so a key added or enabled
	// concurrently is neither orphaned nor deleted.
	DeleteWorkspace(ctx context.Context, id string) (deletedKeys []string, err error)
}

// WorkspacePatch is a change to the mutable fields of a workspace, for
// WorkspaceStore.UpdateWorkspace. A nil field is left as it is. The fields
// that may be null have a Set… flag that says the patch writes them; a nil
// value then stores null. Values are stored as given: the service checks
// them first (see WorkspaceSettingsUpdate).
type WorkspacePatch struct {
	Name, Slug     *string
	SetDescription bool
	Description    *string

	SetDefaultTextModel    bool
	DefaultTextModel       *string
	SetDefaultImageModel   bool
	DefaultImageModel      *string
	SetDefaultProviderSort bool
	DefaultProviderSort    *string
	// SetIOLoggingAPIKeyIDs says IOLoggingAPIKeyIDs is written: nil for
	// every key, an empty list kept as such.
	SetIOLoggingAPIKeyIDs bool
	IOLoggingAPIKeyIDs    []int64
	// SetDisabledServerTools says DisabledServerTools is written: nil for
	// none (the service never passes an empty list).
	SetDisabledServerTools bool
	DisabledServerTools    []string

	IOLoggingSamplingRate           *float64
	IsDataDiscountLoggingEnabled    *bool
	IsObservabilityBroadcastEnabled *bool
	IsObservabilityIOLoggingEnabled *bool

	// UpdatedAt is stored when the patch changes anything.
	UpdatedAt time.Time
}

// Empty reports whether p sets no field.
func (p WorkspacePatch) Empty() bool {
	return p.Name == nil && p.Slug == nil && !p.SetDescription &&
		!p.SetDefaultTextModel && !p.SetDefaultImageModel && !p.SetDefaultProviderSort &&
		!p.SetIOLoggingAPIKeyIDs && !p.SetDisabledServerTools && p.IOLoggingSamplingRate == nil &&
		p.IsDataDiscountLoggingEnabled == nil && p.IsObservabilityBroadcastEnabled == nil &&
		p.IsObservabilityIOLoggingEnabled == nil
}

// AppStore holds apps.
type AppStore interface {
	// UpsertApp finds the app with a.URL or creates it, updates its Title
	// and Categories when a says something new (non-empty Categories
	// replace the stored ones), and returns the stored app with its ID.
	// An update of a stored app that App.ChangedBy reports is announced
	// (ChangeApp) by stores that are a ChangeFeed; a new app is not, being
	// in no cache.
	UpsertApp(ctx context.Context, a *App) (*App, error)
	App(ctx context.Context, id int64) (*App, error)
	// SetAppHidden sets the Hidden flag of the app with id and returns the
	// app as it is after, announcing a change (ChangeApp) by stores that
	// are a ChangeFeed. ErrNotFound if there is no such app.
	SetAppHidden(ctx context.Context, id int64, hidden bool) (*App, error)
	// AppKeyTotals returns, for every app that keys were minted for, the
	// users holding one, the keys, the keys enabled and not expired at
	// now, and the keys' all-time usage counters summed, in no set order.
	AppKeyTotals(ctx context.Context, now time.Time) ([]AppKeyTotal, error)
}

// RollupStore reads the daily rollups of generations that RecordGeneration
// adds to (Charge.AppDay, Charge.UserDay). Days are 00:00 UTC; a range
// [from, to) holds the days d with from <= d < to. The cost of a read
// grows with the rows of the range (days × apps × models, or days × the
// user's keys × models), never with the number of generations.
type RollupStore interface {
	// AppTotals returns, for every app with usage in [from, to), the app
	// and its requests and tokens (prompt + completion) in that range, in
	// no set order.
	AppTotals(ctx context.Context, from, to time.Time) ([]AppTotal, error)
	// AppDays returns the rollup rows of the app with id in [from, to),
	// in no set order.
	AppDays(ctx context.Context, appID int64, from, to time.Time) ([]AppDay, error)
	// UserDays returns the rollup rows of the user in [from, to), in no
	// set order.
	UserDays(ctx context.Context, userID string, from, to time.Time) ([]UserDay, error)
}

// CreditStore holds the append-only ledger of credits granted to users.
type CreditStore interface {
	// AddCreditGrant inserts g, setting g.ID, and announces a change
	// (ChangeCredits, the user's id) by stores that are a ChangeFeed.
	// ErrNotFound if there is no user g.UserID.
	AddCreditGrant(ctx context.Context, g *CreditGrant) error
	// CreditGrants returns the user's grants, oldest first.
	CreditGrants(ctx context.Context, userID string) ([]*CreditGrant, error)
}

// AppKeyTotal is what the keys minted for one app add up to.
type AppKeyTotal struct {
	AppID              int64
	Users, Keys, Live  int
	Micros, BYOKMicros Micros // all time
}

// CodeStore holds authorization codes.
type CodeStore interface {
	// CreateAuthCode inserts c and, when audit is not nil, appends audit
	// (setting audit.ID), in one transaction: neither is stored without
	// the other. ErrConflict on a duplicate hash; ErrNotFound if c's
	// user, workspace or app does not exist.
	CreateAuthCode(ctx context.Context, c *AuthCode, audit *AuditEvent) error
	AuthCode(ctx context.Context, hash string) (*AuthCode, error)
	// RedeemAuthCode marks the code used at usedAt, inserts key and, when
	// audit is not nil, appends audit (setting audit.ID), in one
	// transaction. The single gate is a conditional update of the code row
	// (… WHERE used_at IS NULL): of concurrent calls, on one replica or
	// many, exactly one wins; the others get ErrCodeUsed (ErrNotFound for
	// no such code) and store nothing, their audit events included.
	RedeemAuthCode(ctx context.Context, codeHash string, usedAt time.Time, key *APIKey, audit *AuditEvent) error
	// DeleteExpiredAuthCodes removes unused codes that expired before t and
	// used ones older than t, returning how many went.
	DeleteExpiredAuthCodes(ctx context.Context, before time.Time) (int64, error)
}

// KeyFilter selects keys for ListKeys.
type KeyFilter struct {
	UserID          string
	WorkspaceID     string // "" for all of the user's workspaces
	IncludeDisabled bool
	Offset, Limit   int
}

// KeyPatch is a change to the mutable fields of a key, for
// KeyStore.UpdateKey. A nil field is left as it is.
type KeyPatch struct {
	Name, Label *string
	Disabled    *bool
	// SetLimit says Limit is written: nil removes the limit (no cap), a
	// value sets it, in micro-dollars.
	SetLimit    bool
	Limit       *Micros
	LimitReset  *LimitReset
	IncludeBYOK *bool
	// ExpiresAt, when set, moves the key's expiry to it if that is
	// earlier than the stored one (or the key never expired): computed
	// from the stored row in the update itself, so an expiry is never
	// moved later, whatever runs concurrently.
	ExpiresAt *time.Time
	// UpdatedAt is stored when the patch changes anything.
	UpdatedAt time.Time
}

// Empty reports whether p sets no field.
func (p KeyPatch) Empty() bool {
	return p.Name == nil && p.Label == nil && p.Disabled == nil && !p.SetLimit &&
		p.LimitReset == nil && p.IncludeBYOK == nil && p.ExpiresAt == nil
}

// KeyStore holds API keys.
type KeyStore interface {
	// CreateKey inserts k. ErrConflict on a duplicate hash.
	CreateKey(ctx context.Context, k *APIKey) error
	Key(ctx context.Context, hash string) (*APIKey, error)
	// KeyWithUsage returns the key with hash and, as UsageCounters would,
	// its stored counters among want, read in one statement (one round
	// trip, one snapshot): what a key cache miss costs. ErrNotFound if
	// there is no such key.
	KeyWithUsage(ctx context.Context, hash string, want []UsageCounter) (*APIKey, []UsageCounter, error)
	// ListKeys returns keys matching f, newest first.
	ListKeys(ctx context.Context, f KeyFilter) ([]*APIKey, error)
	// UpdateKey applies p to the key with hash and returns the key as it
	// was just before and as it is after. It writes only the fields that p
	// sets, each computed from the stored row in the same atomic step
	// (one conditional UPDATE; on PostgreSQL the row is locked first), so
	// concurrent patches of different fields never undo each other, on one
	// replica or many. p.UpdatedAt is written only when p changes a stored
	// value: a patch that stores what is already there leaves the row,
	// updated_at included, as it was. ErrNotFound if there is no such key.
	UpdateKey(ctx context.Context, hash string, p KeyPatch) (before, after *APIKey, err error)
	DeleteKey(ctx context.Context, hash string) error
}

// UsageStore holds generations (metered requests) and the usage counters
// they add to. Which counters a charge goes to, and how counters make a
// Usage, is the service's business (Counters, FoldUsage).
type UsageStore interface {
	// RecordGeneration stores c.Generation and adds each counter of
	// c.Counters to the stored sum of its key, period and start (a row
	// never added to counts 0), in one transaction, and returns the sums
	// after that transaction, in the order of c.Counters. The keys need
	// not exist: a charge for a deleted key is kept, not refused. The
	// additions are made by the database, never read into Go and written
	// back, so concurrent calls, from this process or another, never lose
	// one. A generation whose ID is stored already is not stored again
	// and adds nothing (charged false, sums nil): the ID's uniqueness is
	// the gate, so of concurrent calls with one ID, on one replica or
	// many, exactly one charges. It returns only once the charge is
	// durable: its transaction committed, or its record in a write-ahead
	// journal that the store commits soon after and, if the process dies
	// first, when the store is next opened (SQLite's charge journal; its
	// reads then count the journaled charges as stored). Stores may
	// commit the charges of concurrent calls together (group commit), each
	// still charged or not on its own.
	// A LeaseStore also draws c.Leases in that transaction; other stores
	// ignore them. A new generation also adds c.AppDay and c.UserDay (when
	// not nil) to the rollup rows of their day and identity, in that
	// transaction: the rollups always equal the stored generations.
	RecordGeneration(ctx context.Context, c *Charge) (charged bool, sums []UsageCounter, err error)
	// UsageCounters returns the stored counters of keyHash whose period
	// and start are those of a counter of want, with their sums;
	// counters never added to are absent.
	UsageCounters(ctx context.Context, keyHash string, want []UsageCounter) ([]UsageCounter, error)
	// Generation returns the generation with id. ErrNotFound if none.
	Generation(ctx context.Context, id string) (*Generation, error)
	// KeyGenerations returns up to limit (1 or more) generations charged
	// to keyHash, newest first (ties by id, descending): a key's latest
	// requests and, from the first, when it was last used.
	KeyGenerations(ctx context.Context, keyHash string, limit int) ([]*Generation, error)
}

// Charge is what UsageStore.RecordGeneration writes for one metered
// request.
type Charge struct {
	Generation *Generation
	Counters   []UsageCounter // amounts to add, per key, period and start
	// Leases names the budget leases the request was admitted from: each
	// lease's amount drops by its Micros, not below 0.
	Leases []LeaseDraw
	// AppDay and UserDay are what the generation adds to the daily
	// rollups (RollupsOf); nil adds nothing.
	AppDay  *AppDay
	UserDay *UserDay
	// NewID says Generation.ID was made for this charge by Settle
	// ("gen-<unix>-<32 hex>": 128 random bits) and offered to no store before:
	// it cannot be stored already, and a store may skip looking it up. A
	// store still never charges an id twice (a charge replayed after a
	// crash).
	NewID bool
	// InFlight is how many requests of this process held a reservation
	// when the charge was made, itself included: a hint to a store that
	// commits charges in groups of how many more may come soon.
	InFlight int
}

// LeaseDraw is an amount, in micro-dollars, spent from the lease ID.
type LeaseDraw struct {
	ID     int64
	Micros Micros
}

// LeaseStore is implemented by stores that several processes share
// (PostgreSQL replicas): it hands out budget leases, slices of a key's
// remaining limit that one process may spend without asking again, so that
// admission writes to the database once per lease rather than once per
// request (docs/spending.md). A lease is of one key and one window (the
// counter its limit is measured in); it is counted against the key's limit
// until it expires, and its amount shrinks as charges are recorded from it
// (Charge.Leases). Expired leases count for nothing: a process that dies
// gives its leases back by their expiry.
type LeaseStore interface {
	// AcquireLeases sets each request's lease to Keep plus up to Want
	// micro-dollars, as far as the room its key has in the window allows:
	// the key's limit, minus the window's usage (with BYOK usage when the
	// key counts it), minus the amounts of the window's other unexpired
	// leases. The lease (ID, or a new one when ID is 0 or gone) then
	// expires TTL after the database's clock; Want 0 renews it, and a
	// room smaller than Keep cuts it. All requests are one transaction,
	// which locks the keys' rows in the order of their hashes first:
	// leases of concurrent callers, on one replica or many, never exceed
	// the room together. ErrConflict, changing nothing, when a request's
	// Key no longer matches the stored limit, reset, BYOK setting or
	// disabled flag (the caller's copy is stale); ErrNotFound when a key
	// is gone.
	AcquireLeases(ctx context.Context, reqs []LeaseRequest) ([]Lease, error)
	// ReturnLeases shrinks each lease to at most its Keep amount (what
	// requests in flight still hold), deleting it at 0, in one
	// transaction: what a process will not spend goes back to the others
	// at once. Leases that are gone are skipped.
	ReturnLeases(ctx context.Context, leases []LeaseDraw) error
}

// LeaseRequest asks for budget of one key in one window.
type LeaseRequest struct {
	// Key is the key as the process knows it: its Limit (not nil),
	// LimitReset, IncludeBYOK and Disabled must be the stored ones.
	Key *APIKey
	// Window is the counter the limit is measured in (Period and Start;
	// see Counters), whose usage the room is computed from.
	Window UsageCounter
	ID     int64         // the caller's lease of this key and window, 0 for none
	Keep   Micros        // what the caller still has of lease ID: held or unspent
	Want   Micros        // the most to add to Keep
	TTL    time.Duration // how long the lease lasts from now
}

// Lease is one granted lease, as AcquireLeases reports it.
type Lease struct {
	ID      int64  // 0 when there is no lease (nothing to grant, none to renew)
	Granted Micros // the amount beyond the request's Keep
	Amount  Micros // the lease's amount after the call
	Used    Micros // the window's usage that the limit is measured against
	Room    Micros // the room left after the call, for everyone: < 0 past the limit
}

// SessionStore holds browser sessions.
type SessionStore interface {
	// CreateSession inserts s and, when audit is not nil, appends audit
	// (setting audit.ID), in one transaction. ErrConflict on a duplicate
	// token hash.
	CreateSession(ctx context.Context, s *Session, audit *AuditEvent) error
	// Session returns the session with tokenHash or ErrNotFound; expiry is
	// checked by the caller against its clock.
	Session(ctx context.Context, tokenHash string) (*Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
}

// AuditStore appends audit events.
type AuditStore interface {
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns events newest first, at most limit.
	ListAudit(ctx context.Context, limit int) ([]*AuditEvent, error)
}

// ServiceTokenStore holds the operator's service tokens (servicetoken.go).
type ServiceTokenStore interface {
	// CreateServiceToken inserts t. ErrConflict on a duplicate id or hash.
	CreateServiceToken(ctx context.Context, t *ServiceToken) error
	// ServiceTokenByHash returns the token with hash, revoked or not, or
	// ErrNotFound.
	ServiceTokenByHash(ctx context.Context, hash string) (*ServiceToken, error)
	// ListServiceTokens returns every token, revoked ones included, oldest
	// first.
	ListServiceTokens(ctx context.Context) ([]*ServiceToken, error)
	// RevokeServiceToken sets the revocation time of the token with id to
	// at. ErrNotFound if there is no such token or it is revoked already.
	RevokeServiceToken(ctx context.Context, id string, at time.Time) error
}

// FederationStore holds federation policies, the subject tokens already
// exchanged, and keygate's signing keys (federation.go, accesstoken.go).
type FederationStore interface {
	// CreateFederationPolicy inserts p and the key it targets, k, in one
	// transaction. ErrNotFound if the user or workspace does not exist.
	CreateFederationPolicy(ctx context.Context, p *FederationPolicy, k *APIKey) error
	// FederationPolicy returns the policy with id, or ErrNotFound.
	FederationPolicy(ctx context.Context, id string) (*FederationPolicy, error)
	// ListFederationPolicies returns the user's policies, oldest first;
	// every user's when userID is "".
	ListFederationPolicies(ctx context.Context, userID string) ([]*FederationPolicy, error)
	// DeleteFederationPolicy deletes the policy with id (its key stays).
	// ErrNotFound if there is none. Deleting a policy's key deletes the
	// policy too.
	DeleteFederationPolicy(ctx context.Context, id string) error
	// UseSubjectToken records that the token with jti of issuer was
	// exchanged, remembered until expiresAt. ErrConflict if it was
	// recorded before and is remembered still at now: the single gate
	// of a replay (one conditional insert), so of concurrent calls, on
	// one replica or many, exactly one succeeds. Entries remembered no
	// longer may be deleted by it.
	UseSubjectToken(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error
	// SigningKeys returns every signing key, newest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// CreateSigningKey inserts k as the current key. ErrConflict,
	// changing nothing, if there is a current key already (RetiredAt
	// nil): of processes starting at once, one makes the first key.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// RotateSigningKey sets RetiredAt of the current key to at and inserts
	// k as the current key, in one transaction.
	RotateSigningKey(ctx context.Context, k *SigningKey, at time.Time) error
}

// IdentityStore links accounts to identities at upstream OpenID
// providers (signin_oidc.go).
type IdentityStore interface {
	// Identity returns the link of issuer and subject, or ErrNotFound.
	Identity(ctx context.Context, issuer, subject string) (*Identity, error)
	// CreateIdentity inserts the link id; with newUser, first that user
	// and its default workspace ws, in the same transaction.
	// ErrConflict, inserting nothing, when the identity is linked
	// already or newUser's email is taken; ErrNotFound when id.UserID
	// names no user.
	CreateIdentity(ctx context.Context, id *Identity, newUser *User, ws *Workspace) error
}

// Kinds of change that a ChangeFeed announces, and what the id of each
// names.
const (
	ChangeKey     = "key"     // the key's hash: a key was updated or deleted
	ChangeSession = "session" // the session's token hash: a session was deleted
	ChangeApp     = "app"     // the app's decimal id: an app's title, categories or hidden flag changed
	ChangeCredits = "credits" // the user's id: credits were granted to the user
	// ChangeUsage names a key's hash: charges were added to its usage
	// counters. Only stores shared by replicas (PostgreSQL) announce it,
	// once per key per committed batch of charges.
	ChangeUsage = "usage"
	// ChangeBudget names a workspace's id: one of its budgets was set or
	// deleted.
	ChangeBudget = "budget"
	// ChangeGuardrail names a guardrail's id: it was updated or deleted,
	// or assigned to or removed from keys.
	ChangeGuardrail = "guardrail"
)

// Invalidations says what ChangeFeed.Listen does with the changes that
// every process on the database, this one included, announces.
type Invalidations struct {
	// Changed is called with the kind (ChangeKey, ChangeSession,
	// ChangeApp, ChangeUsage, ChangeBudget, ChangeGuardrail) and the id of each announced change, one at
	// a time, in commit order.
	Changed func(kind, id string)
	// Reset is called every time Listen has started listening, the first
	// time included, and whenever announcements may have been missed:
	// anything cached before that moment may have changed unannounced, so
	// every cache should be emptied. It is also called for an announcement
	// that cannot be read.
	Reset func()
	// Error, when set, is told why listening failed or was interrupted;
	// Listen tries again after RetryDelay.
	Error func(error)
	// RetryDelay is how long Listen waits after a failure (on PostgreSQL,
	// before connecting again); zero is the store's default.
	RetryDelay time.Duration
}

// ChangeFeed is implemented by stores that announce, in the transaction of
// each change, the changes to rows that a process may hold in a cache, so
// that every process on the same database (replicas on PostgreSQL; a
// server and the CLI on one SQLite file) can drop its copy.
type ChangeFeed interface {
	// Listen calls inv's functions until ctx is done and returns ctx's
	// error; it returns another error at once for an inv without Changed
	// or Reset, and when the store is closed under it. Changed and Reset
	// must not block for long: announcements wait while they run.
	Listen(ctx context.Context, inv Invalidations) error
}

// AccountStore holds the one-time links of accounts (AccountLink): invites
// to sign up and password resets.
type AccountStore interface {
	// CreateAccountLink inserts l. ErrConflict on a duplicate hash.
	CreateAccountLink(ctx context.Context, l *AccountLink) error
	// AccountLink returns the link with hash, used or not, or ErrNotFound.
	AccountLink(ctx context.Context, hash string) (*AccountLink, error)
	// ListAccountLinks returns the links of kind that are unused and
	// expire after now, newest first, at most limit.
	ListAccountLinks(ctx context.Context, kind string, now time.Time, limit int) ([]*AccountLink, error)
	// RedeemInvite marks the invite with hash used at usedAt, by u, and
	// inserts u with its default workspace ws (as CreateUser does), in one
	// transaction. The single gate is a conditional update of the link
	// row (… WHERE used_at IS NULL AND expires_at > usedAt): of concurrent
	// calls, on one replica or many, exactly one wins. ErrCodeUsed, and
	// nothing stored, when the invite is used or expired; ErrNotFound
	// when there is none; ErrConflict, the invite left unused, when the
	// email is taken.
	RedeemInvite(ctx context.Context, hash string, usedAt time.Time, u *User, ws *Workspace) error
	// RedeemPasswordReset marks the reset link with hash used at usedAt,
	// stores passwordHash as its user's password and deletes every
	// session of the user, announcing each (ChangeSession), in one
	// transaction, with the gate of RedeemInvite. It returns the user.
	// ErrCodeUsed when the link is used or expired; ErrNotFound when there
	// is no such link or its user is gone.
	RedeemPasswordReset(ctx context.Context, hash string, usedAt time.Time, passwordHash string) (*User, error)
}

// Store is everything the Service needs from storage.
type Store interface {
	UserStore
	AccountStore
	WorkspaceStore
	AppStore
	CodeStore
	KeyStore
	UsageStore
	RollupStore
	CreditStore
	SessionStore
	AuditStore
	ServiceTokenStore
	BudgetStore
	GuardrailStore
	FederationStore
	IdentityStore
	Close() error
}
