package keygate

import (
	"context"
	"errors"
	"fmt"
)

// MaxPasswordLen bounds the password a login checks, in bytes, so that a
// huge form field cannot make the password hash arbitrarily expensive.
const MaxPasswordLen = 1024

// errLoginFailed is the one answer to a failed login: it never says whether
// the email or the password was wrong.
var errLoginFailed = &Error{Code: EUNAUTHORIZED, Message: "Wrong email or password"}

// errNoSession is the answer to a missing, unknown or expired session.
var errNoSession = &Error{Code: EUNAUTHORIZED, Message: "Not signed in"}

// Login checks email and password and starts a browser session valid for
// Config.SessionTTL. It returns the session token, the cookie value: a
// secret shown once and stored only as its SHA-256 hash, together with a
// per-session form token (Session.CSRFToken) for the session's forms.
//
// Every failure is EUNAUTHORIZED "Wrong email or password", whichever of the
// two was wrong, and is audited as AuditLoginFailed with the client IP only.
// An unknown or malformed email still costs one password hash, so response
// times do not tell which emails have accounts.
//
// Two bounds come first, and neither hashes anything: an email in its
// back-off after repeated failures (backoff.go) is ERATELIMIT, and a
// process whose password hashes are all busy for MaxHashWait is
// EUNAVAILABLE; both carry Error.RetryAfter.
func (s *Service) Login(ctx context.Context, email, password string) (token string, err error) {
	if wait := s.logins.wait(email, s.Now()); wait > 0 {
		return "", &Error{Code: ERATELIMIT, Message: "Too many failed sign-ins for this email; retry after the time in Retry-After", RetryAfter: wait}
	}
	u, err := s.checkPassword(ctx, email, password)
	if err != nil {
		if errors.Is(err, errLoginFailed) {
			s.logins.failed(email, s.Now())
			s.audit(ctx, AuditEvent{Action: AuditLoginFailed, Detail: "wrong email or password"})
		}
		return "", err
	}
	s.logins.succeeded(email)
	return s.startSession(ctx, u, &AuditEvent{Action: AuditLoginSucceeded, ActorUserID: u.ID})
}

// startSession starts a browser session of u valid for Config.SessionTTL
// and returns its token. The audit event, when not nil, is written in the
// same transaction as the session.
func (s *Service) startSession(ctx context.Context, u *User, event *AuditEvent) (string, error) {
	token := NewToken()
	now := s.Now()
	sess := &Session{
		TokenHash: HashSecret(token),
		UserID:    u.ID,
		CSRFToken: NewToken(),
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionTTL),
	}
	var audit *AuditEvent
	if event != nil {
		audit = s.auditEvent(ctx, *event)
	}
	if err := s.store.CreateSession(ctx, sess, audit); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	if audit != nil {
		s.audited(ctx, audit)
	}
	return token, nil
}

// checkPassword returns the user whose email and password these are, or
// errLoginFailed. The work done is the same whether or not the user exists.
func (s *Service) checkPassword(ctx context.Context, email, password string) (*User, error) {
	if len(password) > MaxPasswordLen {
		return nil, errLoginFailed
	}
	var u *User
	if e, err := NormalizeEmail(email); err == nil {
		u, err = s.store.UserByEmail(ctx, e)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("user by email: %w", err)
		}
	}
	if u == nil {
		// Hashing costs what checking would (one argon2id derivation), so
		// an unknown email answers as slowly as a wrong password.
		if _, err := s.hashPassword(ctx, password); err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		return nil, errLoginFailed
	}
	ok, err := s.checkPasswordHash(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("check password: %w", err)
	}
	// A disabled user gets the same answer as a wrong password, after the
	// same work.
	if !ok || u.Disabled {
		return nil, errLoginFailed
	}
	return u, nil
}

// SessionUser returns the signed-in user of a session token and the
// session itself (whose CSRFToken guards the session's forms). A missing,
// unknown or expired token, or a session whose user is gone or disabled,
// is EUNAUTHORIZED; an expired session is deleted.
func (s *Service) SessionUser(ctx context.Context, token string) (*User, *Session, error) {
	if token == "" {
		return nil, nil, errNoSession
	}
	hash := HashSecret(token)
	sess, err := s.store.Session(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errNoSession
	} else if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	if !s.Now().Before(sess.ExpiresAt) {
		if err := s.store.DeleteSession(ctx, hash); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.WarnContext(ctx, "delete expired session", "err", err)
		}
		return nil, nil, errNoSession
	}
	u, err := s.store.User(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && u.Disabled {
		return nil, nil, errNoSession
	} else if err != nil {
		return nil, nil, fmt.Errorf("session user: %w", err)
	}
	return u, sess, nil
}

// Logout ends the session of token. Ending a session that does not exist
// (already ended, expired and swept, or never valid) is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	err := s.store.DeleteSession(ctx, HashSecret(token))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
