package keygate

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"
)

// MinPasswordLen is the shortest password accepted (NIST SP 800-63B §5.1.1).
const MinPasswordLen = 8

// maxEmailLen is the longest email address, in bytes (RFC 5321 §4.5.3.1
// with RFC 3696 errata: 254).
const maxEmailLen = 254

// NormalizeEmail lower-cases and checks an email address: at most 254
// bytes, the text rule (CheckText) and RFC 5322's addr-spec without a
// display name. Errors are EINVALID naming email.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > maxEmailLen || CheckText("email", e, maxEmailLen) != nil {
		return "", Errorf(EINVALID, "email is not a valid address")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return "", Errorf(EINVALID, "email is not a valid address")
	}
	return e, nil
}

// checkNewPassword is the rule for a password that a user is given: at
// least MinPasswordLen characters and at most MaxPasswordLen bytes (Login
// checks no longer ones). Errors are EINVALID naming password.
func checkNewPassword(password string) error {
	if len([]rune(password)) < MinPasswordLen {
		return Errorf(EINVALID, "password must be at least %d characters", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return Errorf(EINVALID, "password must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// CreateUser creates a user with its default workspace. The first user of
// a keygate is its admin. Errors: EINVALID for a bad email or a password
// that breaks checkNewPassword, ECONFLICT when the email is taken.
func (s *Service) CreateUser(ctx context.Context, email, password string) (*User, error) {
	return s.createUser(ctx, email, password, false, "")
}

// CreateAdmin is CreateUser for an admin: a user who runs this keygate's
// accounts (/admin/users, /admin/apps). The same errors.
func (s *Service) CreateAdmin(ctx context.Context, email, password string) (*User, error) {
	return s.createUser(ctx, email, password, true, "")
}

// createUser checks and hashes the new user's email and password and
// stores the user, through the invite with hash when inviteHash is not
// "" (AccountStore.RedeemInvite). The first user is made an admin.
func (s *Service) createUser(ctx context.Context, email, password string, admin bool, inviteHash string) (*User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := checkNewPassword(password); err != nil {
		return nil, err
	}
	if !admin {
		if admin, err = s.noUsersYet(ctx); err != nil {
			return nil, err
		}
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.Now()
	u := &User{ID: uuid.NewString(), Email: e, PasswordHash: hash, IsAdmin: admin, CreatedAt: now}
	ws := &Workspace{ID: uuid.NewString(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: now}
	if inviteHash != "" {
		err = s.store.RedeemInvite(ctx, inviteHash, now, u, ws)
	} else {
		err = s.store.CreateUser(ctx, u, ws)
	}
	switch {
	case errors.Is(err, ErrConflict):
		return nil, Errorf(ECONFLICT, "a user with this email already exists")
	case errors.Is(err, ErrCodeUsed), errors.Is(err, ErrNotFound):
		return nil, errBadLink
	case err != nil:
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// noUsersYet reports whether no user exists: the first user of a keygate,
// however created, is made an admin.
func (s *Service) noUsersYet(ctx context.Context) (bool, error) {
	_, total, err := s.store.ListUsers(ctx, 0, 1)
	if err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return total == 0, nil
}

// UserByEmail returns the user with email, or ENOTFOUND.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := s.store.UserByEmail(ctx, e)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "no user with this email")
	}
	return u, err
}
