package keygate

import "time"

// User is a person who holds keys. Email is stored lower-case.
type User struct {
	ID           string // UUID
	Email        string
	PasswordHash string // argon2id PHC string; never logged
	// Disabled users cannot sign in and have no browser sessions; the
	// keys they already hold are not touched.
	Disabled bool
	// IsAdmin: the user runs this keygate's accounts (/admin/*).
	IsAdmin   bool
	CreatedAt time.Time
}

// Workspace groups a user's keys. Every user has exactly one default
// workspace, created with the user. Shape: OpenRouter's /workspaces objects.
type Workspace struct {
	ID          string // UUID
	UserID      string
	Name        string
	Slug        string // unique per user, [a-z0-9-]
	Description *string
	IsDefault   bool
	CreatedAt   time.Time
	UpdatedAt   *time.Time
	WorkspaceSettings
}

// WorkspaceSettings are the members of OpenRouter's workspace object that
// configure model routing and logging (components CreateWorkspaceRequest,
// UpdateWorkspaceRequest and Workspace; disabled_server_tools from the
// official SDK's request models). keygate stores and reports them but
// routes no requests, so none of them changes what it does. The zero value
// is what a new workspace has, IOLoggingSamplingRate 0 standing for
// DefaultIOLoggingSamplingRate: stores write that when they insert a
// workspace whose rate is 0.
type WorkspaceSettings struct {
	DefaultTextModel    *string // a model id such as "openai/gpt-4o"; nil: none
	DefaultImageModel   *string // a model id such as "openai/dall-e-3"; nil: none
	DefaultProviderSort *string // one of ProviderSorts; nil: none
	// IOLoggingAPIKeyIDs filters I/O logging to these key ids; nil means
	// every key (an empty list is kept as such).
	IOLoggingAPIKeyIDs    []int64
	IOLoggingSamplingRate float64 // fraction of requests logged, 0.0001 to 1
	// OpenRouter's is_data_discount_logging_enabled,
	// is_observability_broadcast_enabled and
	// is_observability_io_logging_enabled; all off unless set.
	IsDataDiscountLoggingEnabled    bool
	IsObservabilityBroadcastEnabled bool
	IsObservabilityIOLoggingEnabled bool
	// DisabledServerTools names server tools ("openrouter:web_search")
	// that requests in the workspace may not invoke; nil: none. Never an
	// empty list: an empty list clears it.
	DisabledServerTools []string
}

// App is a client application that keys are attributed to.
type App struct {
	ID         int64  // stable, assigned by the store
	URL        string // normalized origin and path, the app's identity
	Title      string
	Categories []string
	// IsLoopback marks apps whose URL is on a loopback host: their title is
	// always "host:port" and they never appear in rankings.
	IsLoopback bool
	// Hidden marks apps the operator has hidden (Service.SetAppHidden):
	// they never appear in rankings or on public pages, but their usage
	// is still metered and attributed.
	Hidden    bool
	CreatedAt time.Time
}

// LimitReset is the interval after which a key's spending limit starts
// again: OpenRouter's `limit_reset` / `usage_limit_type`. The zero value
// means the limit applies to all-time usage.
type LimitReset string

const (
	ResetNone    LimitReset = ""
	ResetDaily   LimitReset = "daily"   // UTC calendar day
	ResetWeekly  LimitReset = "weekly"  // ISO week, Monday 00:00 UTC to Sunday
	ResetMonthly LimitReset = "monthly" // UTC calendar month
)

// ParseLimitReset parses an OpenRouter reset interval. Spelling is exact
// ("Daily" is an error). The empty string is ResetNone.
func ParseLimitReset(field, s string) (LimitReset, error) {
	switch r := LimitReset(s); r {
	case ResetNone, ResetDaily, ResetWeekly, ResetMonthly:
		return r, nil
	}
	return "", Errorf(EINVALID, "%s must be one of daily, weekly, monthly", field)
}

// AuthCode is a one-time authorization code (RFC 6749 §4.1.2). The code
// itself is shown once and stored only as its SHA-256 Hash.
type AuthCode struct {
	Hash        string // hex SHA-256 of the code
	UserID      string
	WorkspaceID string
	AppID       int64
	// ParentKeyHash is the hash of the non-management key that created the
	// code through the API flow; the minted key may never outspend or
	// outlive it. Empty for codes made by management keys or in a browser.
	ParentKeyHash string
	// CreatorKeyHash is the hash of the key, management or not, that
	// created the code through the API flow: the exchange mints nothing
	// once that key is disabled, expired or deleted. Empty for codes made
	// in a browser.
	CreatorKeyHash string
	CallbackURL    string // empty in headless mode
	// CodeChallenge and CodeChallengeMethod are stored on the row so that
	// the exchange checks against what was sent (RFC 7636 §4.4). Both empty
	// for a code made without PKCE.
	CodeChallenge       string
	CodeChallengeMethod string
	// The key to mint.
	Limit        *Micros
	LimitReset   LimitReset
	KeyLabel     string
	KeyExpiresAt *time.Time

	CreatedAt time.Time
	ExpiresAt time.Time  // the code's own expiry (--code-ttl)
	UsedAt    *time.Time // set once, by the exchange that won
	KeyHash   string     // the key the winning exchange minted
}

// APIKey is a key as stored: never the secret itself, only its hash.
type APIKey struct {
	Hash          string // hex SHA-256 of the whole key
	UserID        string
	WorkspaceID   string
	AppID         *int64 // the app it was minted for, if any
	ParentHash    string // see AuthCode.ParentKeyHash
	Name          string
	Label         string // Name, or the masked key when Name is empty
	IsManagement  bool
	Disabled      bool
	Limit         *Micros // nil: no limit
	LimitReset    LimitReset
	IncludeBYOK   bool // include_byok_in_limit, stored and echoed
	ExpiresAt     *time.Time
	ExternalUser  *string
	CreatorUserID string
	CreatedAt     time.Time
	UpdatedAt     *time.Time
}

// Expired reports whether k has an expiry at or before now.
func (k *APIKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// Usage is a key's spending in micro-dollars per period, as OpenRouter
// reports it on /key: all-time, current UTC day, ISO week and UTC month.
type Usage struct {
	Total, Daily, Weekly, Monthly                 Micros
	BYOKTotal, BYOKDaily, BYOKWeekly, BYOKMonthly Micros
}

// Session is a logged-in browser. The token is stored only as its hash.
type Session struct {
	TokenHash string
	UserID    string
	CSRFToken string // per-session form token
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEvent records a security-relevant action. It never holds a secret:
// keys appear as a hash prefix only.
type AuditEvent struct {
	ID            int64
	CreatedAt     time.Time
	Action        string // one of the Audit* constants
	ActorUserID   string
	AppID         *int64
	KeyHashPrefix string
	ClientIP      string
	Detail        string
}

// Audit actions.
const (
	AuditCodeCreated    = "code.created"
	AuditCodeExchanged  = "code.exchanged"
	AuditReplayDetected = "code.replay_detected"
	// AuditReplayRevokeFailed: the key minted from a replayed code could
	// not be disabled (a store error); it may still work.
	AuditReplayRevokeFailed = "code.replay_revoke_failed"
	AuditKeyCreated         = "key.created"
	AuditKeyUpdated         = "key.updated"
	AuditKeyDisabled        = "key.disabled"
	AuditKeyDeleted         = "key.deleted"
	AuditLoginSucceeded     = "login.succeeded"
	AuditLoginFailed        = "login.failed"
	AuditCreditsGranted     = "credits.granted"
	AuditAppHidden          = "app.hidden"
	AuditAppShown           = "app.shown"
)
