package keygate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Sign-in through an upstream OpenID Connect provider: the server runs the
// authorization code flow and verifies the ID token (server/browser_oidc.go);
// the service decides which account an identity signs in to.

// Identity links an account to a person's identity at an upstream OpenID
// provider: its issuer and the subject (sub) the provider gives them
// (OpenID Connect Core 1.0 §2: the pair is the identity, never the email).
type Identity struct {
	Issuer    string
	Subject   string
	UserID    string
	Email     string // the email the provider gave when the link was made
	CreatedAt time.Time
}

// UpstreamIdentity is what a verified ID token says about the person
// signing in.
type UpstreamIdentity struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool // the email_verified claim (OpenID Connect Core 1.0 §5.1)
}

// UpstreamAccounts is the operator's rule for an upstream provider's
// identities that no account is linked to yet.
type UpstreamAccounts struct {
	// LinkByEmail links the identity to the account with the same email
	// when the provider says the email is verified. Never otherwise: an
	// unverified email is anyone's claim, and would hand them the account.
	LinkByEmail bool
	// CreateAccounts creates an account (with its default workspace) on
	// the first sign-in of an identity with an email no account has, even
	// when the sign-up policy is not SignupOpen: the operator trusts this
	// provider's people (a company's own identity provider). Under
	// SignupOpen every provider's people get one.
	CreateAccounts bool
}

// AuditLoginUpstream is the audit action of a sign-in through an upstream
// provider; AuditIdentityLinked of a new link.
const (
	AuditLoginUpstream   = "login.upstream"
	AuditIdentityLinked  = "identity.linked"
	AuditLoginUpstreamNo = "login.upstream_refused"
)

var errNoLinkedAccount = &Error{Code: EFORBIDDEN,
	Message: "No keygate account is linked to this identity. Ask the operator for an account, then sign in with it once to link them."}

// UpstreamLogin signs id in and returns a new session token, as Login
// does: to the account linked to id's issuer and subject; else, per rule,
// to the account with id's verified email (linking it) or to a new
// account (linked) when rule.CreateAccounts or the sign-up policy is
// SignupOpen. Errors: EFORBIDDEN when no account may be used (none
// linked, an unverified or missing email, linking or creating not allowed,
// a disabled account), EINVALID for an email keygate cannot store.
func (s *Service) UpstreamLogin(ctx context.Context, id UpstreamIdentity, rule UpstreamAccounts) (string, error) {
	if id.Issuer == "" || id.Subject == "" {
		return "", Errorf(EINVALID, "the identity has no issuer or subject")
	}
	u, err := s.upstreamAccount(ctx, id, rule)
	if err != nil {
		if ErrorCode(err) == EFORBIDDEN {
			s.audit(ctx, AuditEvent{Action: AuditLoginUpstreamNo, Detail: "issuer " + truncate(id.Issuer, 200) + ": " + ErrorMessage(err)})
		}
		return "", err
	}
	if u.Disabled {
		return "", errNoLinkedAccount
	}
	return s.startSession(ctx, u, &AuditEvent{Action: AuditLoginUpstream, ActorUserID: u.ID, Detail: "issuer " + truncate(id.Issuer, 200)})
}

func (s *Service) upstreamAccount(ctx context.Context, id UpstreamIdentity, rule UpstreamAccounts) (*User, error) {
	link, err := s.store.Identity(ctx, id.Issuer, id.Subject)
	if err == nil {
		u, err := s.store.User(ctx, link.UserID)
		if err != nil {
			return nil, fmt.Errorf("linked user: %w", err)
		}
		return u, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if id.Email == "" {
		return nil, errNoLinkedAccount
	}
	email, err := NormalizeEmail(id.Email)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	link = &Identity{Issuer: id.Issuer, Subject: id.Subject, Email: email, CreatedAt: now}
	existing, err := s.store.UserByEmail(ctx, email)
	switch {
	case err == nil:
		if !rule.LinkByEmail || !id.EmailVerified {
			return nil, errNoLinkedAccount
		}
		link.UserID = existing.ID
		if err := s.store.CreateIdentity(ctx, link, nil, nil); err != nil && !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("link identity: %w", err)
		}
		s.audit(ctx, AuditEvent{Action: AuditIdentityLinked, ActorUserID: existing.ID, Detail: "issuer " + truncate(id.Issuer, 200) + " by verified email"})
		return existing, nil
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("user by email: %w", err)
	}
	if !rule.CreateAccounts && s.SignupPolicy() != SignupOpen {
		return nil, errNoLinkedAccount
	}
	// The account's password is random and never shown: it signs in
	// through its provider until the operator sets a password.
	hash, err := s.hashPassword(ctx, NewToken())
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	admin, err := s.noUsersYet(ctx)
	if err != nil {
		return nil, err
	}
	u := &User{ID: uuid.NewString(), Email: email, PasswordHash: hash, IsAdmin: admin, CreatedAt: now}
	ws := &Workspace{ID: uuid.NewString(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: now}
	link.UserID = u.ID
	switch err := s.store.CreateIdentity(ctx, link, u, ws); {
	case errors.Is(err, ErrConflict):
		// The same person signing in twice at once, or an email taken
		// meanwhile: whoever won holds the link or the email.
		return nil, Errorf(EFORBIDDEN, "This account was just created or linked by another sign-in. Please sign in again.")
	case err != nil:
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditIdentityLinked, ActorUserID: u.ID, Detail: "issuer " + truncate(id.Issuer, 200) + ", account created"})
	return u, nil
}
