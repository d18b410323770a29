package keygate

import (
	"context"
	"errors"
	"fmt"
)

// Administration of users, for the command line (keygate users …): it acts
// as the operator, not as a signed-in user.

// Audit actions of user administration.
const (
	AuditUserPasswordSet = "user.password_set"
	AuditUserDisabled    = "user.disabled"
	AuditUserEnabled     = "user.enabled"
)

// MaxUserPage is the most users ListUsers returns at once.
const MaxUserPage = 100

// ListUsers returns up to limit users (1 to MaxUserPage; other values mean
// MaxUserPage), oldest first, skipping offset (negative is 0), and how many
// there are in all.
func (s *Service) ListUsers(ctx context.Context, offset, limit int) ([]*User, int, error) {
	if limit <= 0 || limit > MaxUserPage {
		limit = MaxUserPage
	}
	users, total, err := s.store.ListUsers(ctx, max(offset, 0), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return users, total, nil
}

// SetPassword gives the user with email a new password and ends all of
// their browser sessions. Errors: EINVALID for a bad email or a password
// that breaks the rules of CreateUser (checkNewPassword), ENOTFOUND when
// no user has the email, EUNAVAILABLE when the password hashes are all
// busy (MaxHashWait). Audited as AuditUserPasswordSet.
func (s *Service) SetPassword(ctx context.Context, email, password string) (*User, error) {
	if err := checkNewPassword(password); err != nil {
		return nil, err
	}
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u.PasswordHash = hash
	if err := s.updateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, AuditEvent{Action: AuditUserPasswordSet, ActorUserID: u.ID})
	return u, nil
}

// SetUserDisabled disables (or enables again) the user with email. A
// disabled user cannot sign in, and every browser session of theirs ends
// now; keys they already hold keep working until they are disabled too
// (keygate keys disable). Errors: EINVALID for a bad email, ENOTFOUND when
// no user has it. Audited as AuditUserDisabled or AuditUserEnabled; a user
// already in the asked state is returned unchanged, without an event.
func (s *Service) SetUserDisabled(ctx context.Context, email string, disabled bool) (*User, error) {
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if u.Disabled == disabled {
		return u, nil
	}
	u.Disabled = disabled
	if err := s.updateUser(ctx, u); err != nil {
		return nil, err
	}
	action := AuditUserEnabled
	if disabled {
		action = AuditUserDisabled
	}
	s.audit(ctx, AuditEvent{Action: action, ActorUserID: u.ID})
	return u, nil
}

// updateUser stores u, a user just read; one deleted since is ENOTFOUND.
func (s *Service) updateUser(ctx context.Context, u *User) error {
	err := s.store.UpdateUser(ctx, u)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENOTFOUND, "no user with this email")
	} else if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}
