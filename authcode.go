package keygate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keygate/keygate/pkce"
)

// MaxLabelLen is the longest key_label or name, in Unicode code points
// (OpenRouter spec: key_label maxLength 100).
const MaxLabelLen = 100

// AuthCodeRequest is a request for an authorization code, from the body of
// POST /api/v1/auth/keys/code or the query of GET /auth, before validation.
// Field names are OpenRouter's.
type AuthCodeRequest struct {
	CallbackURL         string   // "" only in headless mode
	CodeChallenge       string   // "" for no PKCE
	CodeChallengeMethod string   // "S256", "plain", or "" (plain when a challenge is given)
	Limit               *float64 // USD; nil for no limit
	ExpiresAt           *string  // RFC 3339 with an offset; nil for none
	KeyLabel            string
	UsageLimitType      string // limit_reset: daily, weekly, monthly or ""
	WorkspaceID         string // "" for the user's default workspace
	// Headless allows an empty CallbackURL: the code is shown to the user
	// instead of redirected, so a code_challenge is then required.
	Headless bool
}

// AuthCodeSpec is a validated AuthCodeRequest. WorkspaceID is "" for the
// user's default workspace.
type AuthCodeSpec struct {
	CallbackURL   string
	Challenge     string
	Method        pkce.Method // "" when there is no challenge
	Limit         *Micros
	LimitReset    LimitReset
	KeyExpiresAt  *time.Time
	KeyLabel      string
	WorkspaceID   string
	CallbackIsApp bool
}

// ValidateAuthCodeRequest checks every field of r (the rules are listed
// in docs/architecture.md) without touching the store, so the browser flow can reject a bad
// request before anyone logs in. Errors are EINVALID and name the field:
// callback_url (see CheckCallbackURL), code_challenge_method (exactly S256
// or plain, RFC 7636 §4.3), code_challenge (RFC 7636 §4.1/§4.2; required
// with a method, in headless mode and under --require-pkce), limit (>= 0),
// usage_limit_type, expires_at (RFC 3339 with an offset, in the future),
// key_label (<= 100 code points) and workspace_id (a UUID).
func (s *Service) ValidateAuthCodeRequest(r *AuthCodeRequest) (*AuthCodeSpec, error) {
	spec := &AuthCodeSpec{CallbackURL: r.CallbackURL}
	if r.CallbackURL != "" || !r.Headless {
		if _, err := CheckCallbackURL(r.CallbackURL); err != nil {
			return nil, err
		}
	}
	if err := s.validatePKCE(r, spec); err != nil {
		return nil, err
	}
	if r.Limit != nil {
		m, err := MicrosFromUSD("limit", *r.Limit)
		if err != nil {
			return nil, err
		}
		spec.Limit = &m
	}
	reset, err := ParseLimitReset("usage_limit_type", r.UsageLimitType)
	if err != nil {
		return nil, err
	}
	spec.LimitReset = reset
	if r.ExpiresAt != nil {
		t, err := s.parseExpiry("expires_at", *r.ExpiresAt, false)
		if err != nil {
			return nil, err
		}
		spec.KeyExpiresAt = &t
	}
	if err := CheckLabel("key_label", r.KeyLabel); err != nil {
		return nil, err
	}
	spec.KeyLabel = strings.TrimSpace(r.KeyLabel) // as for name on POST /api/v1/keys
	if r.WorkspaceID != "" {
		if err := checkUUID("workspace_id", r.WorkspaceID); err != nil {
			return nil, err
		}
	}
	spec.WorkspaceID = r.WorkspaceID
	return spec, nil
}

// workspaceRef is the spec's workspace for resolveWorkspace: nil for the
// default.
func (spec *AuthCodeSpec) workspaceRef() *string {
	if spec.WorkspaceID == "" {
		return nil
	}
	return &spec.WorkspaceID
}

// validatePKCE applies RFC 7636 §4.3: a method needs a challenge, a
// headless code or a server with RequirePKCE needs one too (RFC 9700
// §2.1.1), and the challenge has the form its method gives it.
func (s *Service) validatePKCE(r *AuthCodeRequest, spec *AuthCodeSpec) error {
	switch {
	case r.CodeChallenge == "" && r.CodeChallengeMethod != "":
		return Errorf(EINVALID, "code_challenge is required when code_challenge_method is given")
	case r.CodeChallenge == "" && r.Headless && r.CallbackURL == "":
		return Errorf(EINVALID, "code_challenge is required without a callback_url")
	case r.CodeChallenge == "" && s.cfg.RequirePKCE:
		return Errorf(EINVALID, "code_challenge is required by this server")
	case r.CodeChallenge == "":
		return nil
	}
	method := pkce.Plain // RFC 7636 §4.3: absent means plain
	if r.CodeChallengeMethod != "" {
		m, err := pkce.ParseMethod(r.CodeChallengeMethod)
		if err != nil {
			return Errorf(EINVALID, "code_challenge_method must be S256 or plain")
		}
		method = m
	}
	if err := pkce.CheckChallenge(method, r.CodeChallenge); err != nil {
		if method == pkce.S256 {
			return Errorf(EINVALID, "code_challenge must be 43 base64url characters without padding for S256")
		}
		return Errorf(EINVALID, "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ for plain")
	}
	spec.Challenge, spec.Method = r.CodeChallenge, method
	return nil
}

// parseExpiry parses an expiry: RFC 3339 with an offset (utcOnly: the
// offset must be Z or +00:00), strictly in the future. Digits past the
// millisecond are dropped: keygate writes times back with milliseconds,
// and an expiry is the instant it reports, not a finer one it cannot show.
func (s *Service) parseExpiry(field, v string, utcOnly bool) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "%s must be an RFC 3339 date-time with a time zone offset", field)
	}
	t = t.Truncate(time.Millisecond)
	if _, off := t.Zone(); utcOnly && off != 0 {
		return time.Time{}, Errorf(EINVALID, "%s must be in UTC", field)
	}
	if !t.After(s.Now()) {
		return time.Time{}, Errorf(EINVALID, "%s must be in the future", field)
	}
	return t.UTC(), nil
}

// CheckLabel applies the text rule (CheckText) to key_label or name: at
// most MaxLabelLen code points (OpenRouter's limit of 100).
func CheckLabel(field, v string) error {
	return CheckText(field, v, MaxLabelLen)
}

func checkUUID(field, v string) error {
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		return Errorf(EINVALID, "%s must be a UUID", field)
	}
	return nil
}

// Actor is who asks for a code: a user, through an API key (API flow) or a
// browser session (Key is nil).
type Actor struct {
	UserID string
	Key    *APIKey
}

// CreatedCode is the result of CreateAuthCode. Code is the secret; it is
// shown once and never stored.
type CreatedCode struct {
	Code      string
	AppID     int64 // the app the code, and the key minted from it, is attributed to
	CreatedAt time.Time
}

// CreateAuthCode validates r, resolves the workspace and the app, applies
// delegation limits and stores a new single-use code valid for CodeTTL.
//
// Delegation never escalates (docs/architecture.md): when the actor's key is not a
// management key, the minted key's limit is at most what that key has left
// now, its expiry at most that key's, and it stays bound to it (spending is
// checked against the whole chain). Errors: those of
// ValidateAuthCodeRequest, and EINVALID "workspace_id …" when the workspace
// is not one of the actor's.
func (s *Service) CreateAuthCode(ctx context.Context, actor Actor, r *AuthCodeRequest, attr Attribution) (*CreatedCode, error) {
	spec, err := s.ValidateAuthCodeRequest(r)
	if err != nil {
		return nil, err
	}
	wsID, err := s.codeWorkspace(ctx, actor.UserID, spec.workspaceRef())
	if err != nil {
		return nil, err
	}
	now := s.Now()
	code := &AuthCode{
		UserID:              actor.UserID,
		WorkspaceID:         wsID,
		CallbackURL:         spec.CallbackURL,
		CodeChallenge:       spec.Challenge,
		CodeChallengeMethod: string(spec.Method),
		Limit:               spec.Limit,
		LimitReset:          spec.LimitReset,
		KeyLabel:            spec.KeyLabel,
		KeyExpiresAt:        spec.KeyExpiresAt,
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.cfg.CodeTTL),
	}
	if k := actor.Key; k != nil {
		code.CreatorKeyHash = k.Hash
		if err := s.refuseFederationKey(ctx, k); err != nil {
			return nil, err
		}
		if !k.IsManagement {
			if err := s.delegate(ctx, k, code); err != nil {
				return nil, err
			}
		}
	}
	appID, title, err := s.upsertApp(ctx, attr, spec.CallbackURL)
	if err != nil {
		return nil, err
	}
	code.AppID = appID
	code.KeyLabel = keyLabelOr(code.KeyLabel, title)
	secret := NewCode()
	code.Hash = HashSecret(secret)
	ev := AuditEvent{Action: AuditCodeCreated, ActorUserID: actor.UserID, AppID: &appID, Detail: "code " + hashPrefix(code.Hash)}
	if actor.Key != nil { // the API flow: the key that asked
		ev.KeyHashPrefix = hashPrefix(actor.Key.Hash)
	}
	audit := s.auditEvent(ctx, ev)
	if err := s.store.CreateAuthCode(ctx, code, audit); errors.Is(err, ErrNotFound) {
		// The workspace was deleted since resolveWorkspace read it.
		return nil, errNotYourWorkspace("workspace_id")
	} else if err != nil {
		return nil, fmt.Errorf("create auth code: %w", err)
	}
	s.audited(ctx, audit)
	s.codes.put(code.Hash, code)
	return &CreatedCode{Code: secret, AppID: appID, CreatedAt: now}, nil
}

// newCodesSize bounds the codes the service remembers from their creation
// to their exchange, so that an exchange on the process that made its code
// reads nothing (authCode). A code never exchanged stays until it is
// evicted to make room: about 400 bytes each, 26 MiB at most.
const newCodesSize = 65_536

// defaultsCacheSize bounds the users whose default workspace the service
// remembers.
const defaultsCacheSize = 100_000

// codeWorkspace returns the id of the workspace a code goes to: ref's, as
// resolveWorkspace finds it, or the user's default, remembered (a sign-in
// reads it once per user, not once per code).
func (s *Service) codeWorkspace(ctx context.Context, userID string, ref *string) (string, error) {
	if ref != nil {
		ws, err := s.resolveWorkspace(ctx, userID, ref, "workspace_id")
		if err != nil {
			return "", err
		}
		return ws.ID, nil
	}
	if id, ok := s.defaults.get(userID); ok {
		return id, nil
	}
	ws, err := s.resolveWorkspace(ctx, userID, nil, "workspace_id")
	if err != nil {
		return "", err
	}
	s.defaults.put(userID, ws.ID)
	return ws.ID, nil
}

// errDelegationDepth refuses a code that would mint a key more than
// maxChain delegations below a management-created key: every check walks
// the whole chain, so its length is bounded where chains are made.
var errDelegationDepth = Errorf(EFORBIDDEN, "This key cannot delegate further: at most %d levels of keys minted from keys", maxChain)

// delegate bounds the code's key by the parent key k.
func (s *Service) delegate(ctx context.Context, k *APIKey, c *AuthCode) error {
	ancestors, err := s.activeAncestors(ctx, k)
	if err != nil {
		return err
	}
	if len(ancestors)+1 > maxChain {
		return errDelegationDepth
	}
	c.ParentKeyHash = k.Hash
	if k.ExpiresAt != nil && (c.KeyExpiresAt == nil || c.KeyExpiresAt.After(*k.ExpiresAt)) {
		t := *k.ExpiresAt
		c.KeyExpiresAt = &t
	}
	if k.Limit == nil {
		return nil
	}
	u, err := s.keyUsage(ctx, k.Hash, PeriodsAt(s.Now()))
	if err != nil {
		return fmt.Errorf("parent: %w", err)
	}
	left := Remaining(k.Limit, k.LimitReset, k.IncludeBYOK, u)
	if c.Limit == nil || *c.Limit > *left {
		c.Limit = left
	}
	return nil
}

// upsertApp records the app a request is attributed to and returns its id
// with the title this request gives it (its own X-OpenRouter-Title, else
// the fixed loopback or host title), which names keys minted without a
// label.
//
// Apps are shared by everyone, so a request without a title of its own
// (the browser flow, or no headers) never overwrites the stored one: it
// sends no title, and only an app seen for the first time gets the host.
//
// The store is asked the first time this process sees an app with these
// headers (see appCacheSize); after that the id comes from memory, so a
// sign-in or a metered request reads and writes nothing for its app.
func (s *Service) upsertApp(ctx context.Context, attr Attribution, callbackURL string) (int64, string, error) {
	a := AppOf(attr, callbackURL)
	title := a.Title
	ck := a.URL + "\x00" + cleanTitle(attr.Title) + "\x00" + strings.Join(a.Categories, ",")
	if id, ok := s.apps.get(ck); ok {
		return id, title, nil
	}
	if !a.IsLoopback && cleanTitle(attr.Title) == "" {
		a.Title = ""
	}
	a.CreatedAt = s.Now()
	app, err := s.store.UpsertApp(ctx, a)
	if err == nil && app.Title == "" {
		a.Title = title
		app, err = s.store.UpsertApp(ctx, a)
	}
	if err != nil {
		return 0, "", fmt.Errorf("upsert app: %w", err)
	}
	s.apps.put(ck, app.ID)
	return app.ID, title, nil
}

// errNotYourWorkspace answers for a workspace that is missing or another
// user's alike, and for one deleted while a code or key was being created
// in it: what the create would have answered had the delete come first.
func errNotYourWorkspace(field string) error {
	return Errorf(EINVALID, "%s is not one of your workspaces", field)
}

// keyLabelOr is the label of a key minted from a code: the request's
// key_label, else (OpenRouter: key_label "defaults to the app name") the
// title this request gives its app, not the shared app row another user
// may rename.
func keyLabelOr(label, appTitle string) string {
	if label == "" {
		return appTitle
	}
	return label
}

// resolveWorkspace returns the workspace id names, or the user's default
// when id is nil. id is a UUID in any case (RFC 9562 §4); a workspace of
// another user is reported as EINVALID naming field, exactly like a
// missing one, so ids cannot be probed.
func (s *Service) resolveWorkspace(ctx context.Context, userID string, ref *string, field string) (*Workspace, error) {
	if ref == nil {
		ws, err := s.store.DefaultWorkspace(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("default workspace: %w", err)
		}
		return ws, nil
	}
	if err := checkUUID(field, *ref); err != nil {
		return nil, err
	}
	id := strings.ToLower(*ref) // stored ids are lower-case; UUIDs are not case-sensitive (RFC 9562 §4)
	ws, err := s.store.Workspace(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && ws.UserID != userID) {
		return nil, errNotYourWorkspace(field)
	}
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return ws, nil
}
