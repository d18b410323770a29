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
	// CreateUser inserts u together with its default workspace ws, in one
	// transaction. ErrConflict if the email is taken.
	CreateUser(ctx context.Context, u *User, ws *Workspace) error
	User(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
}

// WorkspaceStore holds workspaces.
type WorkspaceStore interface {
	// CreateWorkspace inserts w. ErrConflict if the user already has its slug.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	Workspace(ctx context.Context, id string) (*Workspace, error)
	DefaultWorkspace(ctx context.Context, userID string) (*Workspace, error)
	// ListWorkspaces returns up to limit of a user's workspaces, oldest
	// first, skipping offset, and the total count.
	ListWorkspaces(ctx context.Context, userID string, offset, limit int) ([]*Workspace, int, error)
	// UpdateWorkspace writes Name, Slug, Description and UpdatedAt.
	UpdateWorkspace(ctx context.Context, w *Workspace) error
	// DeleteWorkspace deletes a workspace. ErrConflict if it still holds
	// keys (in one statement or transaction, so a key added concurrently
	// cannot be orphaned) or is the user's default.
	DeleteWorkspace(ctx context.Context, id string) error
}

// AppStore holds apps.
type AppStore interface {
	// UpsertApp finds the app with a.URL or creates it, updates its Title
	// and Categories when a says something new (non-empty Categories
	// replace the stored ones), and returns the stored app with its ID.
	UpsertApp(ctx context.Context, a *App) (*App, error)
	App(ctx context.Context, id int64) (*App, error)
}

// CodeStore holds authorization codes.
type CodeStore interface {
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	AuthCode(ctx context.Context, hash string) (*AuthCode, error)
	// RedeemAuthCode marks the code used at usedAt and inserts key, in one
	// transaction. The single gate is a conditional update of the code row
	// (… WHERE used_at IS NULL): of concurrent calls, on one replica or
	// many, exactly one wins; the others get ErrCodeUsed and insert nothing.
	RedeemAuthCode(ctx context.Context, codeHash string, usedAt time.Time, key *APIKey) error
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

// KeyStore holds API keys.
type KeyStore interface {
	// CreateKey inserts k. ErrConflict on a duplicate hash.
	CreateKey(ctx context.Context, k *APIKey) error
	Key(ctx context.Context, hash string) (*APIKey, error)
	// ListKeys returns keys matching f, newest first.
	ListKeys(ctx context.Context, f KeyFilter) ([]*APIKey, error)
	// UpdateKey writes the mutable fields of k: Name, Label, Disabled,
	// Limit, LimitReset, IncludeBYOK, UpdatedAt.
	UpdateKey(ctx context.Context, k *APIKey) error
	DeleteKey(ctx context.Context, hash string) error
}

// UsageStore counts spending.
type UsageStore interface {
	// RecordUsage stores ev and adds its cost to the counters of every key
	// in keyHashes (the key and its delegation ancestors) for the periods
	// p, in one transaction, with atomic increments: concurrent calls never
	// lose an update.
	RecordUsage(ctx context.Context, ev *UsageEvent, keyHashes []string, p Periods) error
	// KeyUsage returns a key's usage in the periods p.
	KeyUsage(ctx context.Context, keyHash string, p Periods) (Usage, error)
}

// SessionStore holds browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
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

// Store is everything the Service needs from storage.
type Store interface {
	UserStore
	WorkspaceStore
	AppStore
	CodeStore
	KeyStore
	UsageStore
	SessionStore
	AuditStore
	Close() error
}
