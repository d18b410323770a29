package keygate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Kinds of AccountLink.
const (
	LinkInvite = "invite" // signs up one new account (SignupInvite)
	LinkReset  = "reset"  // sets the password of one user
)

// Lifetimes of account links.
const (
	InviteTTL = 7 * 24 * time.Hour
	ResetTTL  = 24 * time.Hour
)

// AccountLink is a one-time link an admin makes: an invite to sign up or a
// password reset. Its token is shown once, in the link, and stored only as
// its SHA-256 Hash; it is used once, before ExpiresAt.
type AccountLink struct {
	Hash      string
	Kind      string // LinkInvite or LinkReset
	UserID    string // reset: whose password; invite: the user it created, once used
	CreatedBy string // the admin's user id
	Note      string // an invite's note: whom it is for (shown to admins only)
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// errBadLink answers for an account link that is unknown, used or expired
// alike: which of the three is nobody's business but the admin's.
var errBadLink = &Error{Code: EFORBIDDEN, Message: "This link is not valid: it was used already, has expired, or never existed. Ask an admin for a new one."}

// errNotAdmin refuses a user who is not an admin.
var errNotAdmin = &Error{Code: EFORBIDDEN, Message: "Only admins can do this"}

// Audit actions of accounts.
const (
	AuditUserSignedUp    = "user.signed_up"
	AuditUserCreated     = "user.created"
	AuditInviteCreated   = "invite.created"
	AuditResetCreated    = "password_reset.created"
	AuditPasswordChanged = "user.password_changed"
)

// maxNoteLen bounds an invite's note, in code points.
const maxNoteLen = 100

// RequireAdmin returns EFORBIDDEN unless u is an admin.
func RequireAdmin(u *User) error {
	if u == nil || !u.IsAdmin || u.Disabled {
		return errNotAdmin
	}
	return nil
}

// SignUp creates an account from the sign-up page, as the sign-up policy
// allows (SignupPolicy): under SignupClosed never; under SignupInvite with
// invite, the token of an unused, unexpired invite link, which is used up
// in the same transaction; under SignupOpen always (an invite given is
// used up too). The rules of email and password are CreateUser's.
//
// Errors: EFORBIDDEN when the policy refuses, or the invite is unknown,
// used or expired (one message for the three); EINVALID naming email or
// password; ECONFLICT when the email is taken (the invite stays unused).
func (s *Service) SignUp(ctx context.Context, email, password, invite string) (*User, error) {
	policy := s.SignupPolicy()
	switch {
	case policy == SignupClosed:
		return nil, Errorf(EFORBIDDEN, "Sign-up is closed here: ask an admin for an account")
	case policy == SignupInvite && invite == "":
		return nil, Errorf(EFORBIDDEN, "Sign-up here needs an invite link from an admin")
	}
	hash := ""
	if invite != "" {
		hash = HashSecret(invite)
	}
	u, err := s.createUser(ctx, email, password, false, hash)
	if err != nil {
		return nil, err
	}
	detail := "open"
	if hash != "" {
		detail = "invite"
	}
	s.audit(ctx, AuditEvent{Action: AuditUserSignedUp, ActorUserID: u.ID, Detail: detail})
	return u, nil
}

// CheckLink returns nil when token is an unused, unexpired link of kind,
// so a page can offer its form; otherwise the EFORBIDDEN of a bad link.
func (s *Service) CheckLink(ctx context.Context, kind, token string) error {
	if token == "" {
		return errBadLink
	}
	l, err := s.store.AccountLink(ctx, HashSecret(token))
	if errors.Is(err, ErrNotFound) {
		return errBadLink
	} else if err != nil {
		return fmt.Errorf("account link: %w", err)
	}
	if l.Kind != kind || l.UsedAt != nil || !s.Now().Before(l.ExpiresAt) {
		return errBadLink
	}
	return nil
}

// CreateInvite makes an invite link's token for admin to hand to someone:
// single use, valid InviteTTL, stored only as its hash. note (at most 100
// code points, the text rule) says whom it is for. Errors: EFORBIDDEN
// when admin is not an admin, or under SignupClosed (the link could not
// be used: the admin creates the account instead); EINVALID naming note.
func (s *Service) CreateInvite(ctx context.Context, admin *User, note string) (string, *AccountLink, error) {
	if err := RequireAdmin(admin); err != nil {
		return "", nil, err
	}
	if s.SignupPolicy() == SignupClosed {
		return "", nil, Errorf(EFORBIDDEN, "Sign-up is closed here (--signup closed), so an invite link could not be used: create the account instead")
	}
	if err := CheckText("note", note, maxNoteLen); err != nil {
		return "", nil, err
	}
	return s.createLink(ctx, admin, &AccountLink{Kind: LinkInvite, Note: strings.TrimSpace(note)}, InviteTTL, AuditInviteCreated)
}

// CreatePasswordReset makes a password reset link's token for the user
// with userID, for admin to hand over: single use, valid ResetTTL. Errors:
// EFORBIDDEN when admin is not an admin, ENOTFOUND when there is no such
// user.
func (s *Service) CreatePasswordReset(ctx context.Context, admin *User, userID string) (string, *AccountLink, error) {
	if err := RequireAdmin(admin); err != nil {
		return "", nil, err
	}
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	return s.createLink(ctx, admin, &AccountLink{Kind: LinkReset, UserID: u.ID}, ResetTTL, AuditResetCreated)
}

func (s *Service) createLink(ctx context.Context, admin *User, l *AccountLink, ttl time.Duration, action string) (string, *AccountLink, error) {
	token := NewToken()
	l.Hash, l.CreatedBy = HashSecret(token), admin.ID
	l.CreatedAt = s.Now()
	l.ExpiresAt = l.CreatedAt.Add(ttl)
	if err := s.store.CreateAccountLink(ctx, l); err != nil {
		return "", nil, fmt.Errorf("create account link: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: action, ActorUserID: admin.ID, Detail: l.UserID})
	return token, l, nil
}

// Invites returns the invites that can still be used, newest first.
// Errors: EFORBIDDEN when admin is not an admin.
func (s *Service) Invites(ctx context.Context, admin *User) ([]*AccountLink, error) {
	if err := RequireAdmin(admin); err != nil {
		return nil, err
	}
	list, err := s.store.ListAccountLinks(ctx, LinkInvite, s.Now(), MaxUserPage)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	return list, nil
}

// ResetPassword sets a new password through a reset link's token and
// signs its user out everywhere. Errors: EINVALID naming password (the
// rules of CreateUser), EFORBIDDEN for a link unknown, used or expired.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (*User, error) {
	if err := checkNewPassword(password); err != nil {
		return nil, err
	}
	if err := s.CheckLink(ctx, LinkReset, token); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u, err := s.store.RedeemPasswordReset(ctx, HashSecret(token), s.Now(), hash)
	if errors.Is(err, ErrCodeUsed) || errors.Is(err, ErrNotFound) {
		return nil, errBadLink
	} else if err != nil {
		return nil, fmt.Errorf("redeem password reset: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditUserPasswordSet, ActorUserID: u.ID, Detail: "reset link"})
	return u, nil
}

// ChangePassword sets the signed-in user's password after checking the
// current one, signs them out of every session, and starts a new session
// for the browser that asked, whose token it returns (OWASP: renew the
// session on a change of credentials). Errors: EINVALID naming
// current_password when it is wrong, or password (the rules of
// CreateUser); EUNAVAILABLE when the password hashes are all busy.
func (s *Service) ChangePassword(ctx context.Context, userID, current, password string) (string, error) {
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return "", err
	}
	if len(current) > MaxPasswordLen {
		return "", Errorf(EINVALID, "current_password is wrong")
	}
	ok, err := s.checkPasswordHash(ctx, current, u.PasswordHash)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", Errorf(EINVALID, "current_password is wrong")
	}
	if err := checkNewPassword(password); err != nil {
		return "", err
	}
	if u.PasswordHash, err = s.hashPassword(ctx, password); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if err := s.updateUser(ctx, u); err != nil {
		return "", err
	}
	s.audit(ctx, AuditEvent{Action: AuditPasswordChanged, ActorUserID: u.ID})
	return s.startSession(ctx, u, nil)
}

// AdminCreateUser is CreateUser (or CreateAdmin) by an admin from
// /admin/users. Errors: EFORBIDDEN when admin is not an admin, and
// CreateUser's.
func (s *Service) AdminCreateUser(ctx context.Context, admin *User, email, password string, makeAdmin bool) (*User, error) {
	if err := RequireAdmin(admin); err != nil {
		return nil, err
	}
	u, err := s.createUser(ctx, email, password, makeAdmin, "")
	if err != nil {
		return nil, err
	}
	s.audit(ctx, AuditEvent{Action: AuditUserCreated, ActorUserID: admin.ID, Detail: u.ID})
	return u, nil
}

// AdminSetUserDisabled is SetUserDisabled by an admin, on the user with
// userID. Errors: EFORBIDDEN when admin is not an admin, EINVALID when
// admins disable themselves (someone must stay able to sign in),
// ENOTFOUND when there is no such user.
func (s *Service) AdminSetUserDisabled(ctx context.Context, admin *User, userID string, disabled bool) (*User, error) {
	if err := RequireAdmin(admin); err != nil {
		return nil, err
	}
	if disabled && userID == admin.ID {
		return nil, Errorf(EINVALID, "you cannot disable your own account")
	}
	u, err := s.userByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.SetUserDisabled(ctx, u.Email, disabled)
}

// userByID returns the user with id, or ENOTFOUND.
func (s *Service) userByID(ctx context.Context, id string) (*User, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, Errorf(ENOTFOUND, "no such user")
	}
	u, err := s.store.User(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "no such user")
	} else if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}
