package keygate

import (
	"context"
	"errors"
	"fmt"

	"github.com/keygate/keygate/pkce"
)

// ExchangeRequest is the body of POST /api/v1/auth/keys.
type ExchangeRequest struct {
	Code                string
	CodeVerifier        string  // "" when not sent
	CodeChallengeMethod *string // nil when absent or null: use the stored method
}

// ExchangeResult is what a successful exchange returns: the key, shown
// once, and its owner.
type ExchangeResult struct {
	Key    string
	UserID string
	Hash   string
}

var (
	errInvalidMethod = &Error{Code: EINVALID, Message: MsgInvalidMethod}
	errInvalidCode   = &Error{Code: EFORBIDDEN, Message: MsgInvalidCode}
	errCodeExpired   = &Error{Code: EFORBIDDEN, Message: MsgCodeExpired}
)

// ExchangeAuthCode redeems an authorization code for a new API key
// (OpenRouter POST /auth/keys; RFC 6749 §4.1.3, RFC 7636 §4.6).
//
// Errors, with OpenRouter's messages:
//   - EINVALID "code is required" when Code is empty.
//   - EINVALID MsgInvalidMethod when a method is given that differs from the
//     code's, or when the code was made without PKCE and the request sends a
//     verifier or a method (a downgrade, RFC 9700 §2.1.1).
//   - EFORBIDDEN MsgInvalidCode for an unknown or used code, a missing or
//     wrong verifier, or a code whose creating key (AuthCode.CreatorKeyHash)
//     or one of that key's ancestors is disabled, expired or deleted. A
//     failed verification does not consume the code.
//   - EFORBIDDEN MsgCodeExpired for an expired code.
//
// A used code presented again by someone who holds its secret (the right
// verifier, or a code made without PKCE) disables the key the first
// exchange minted (RFC 6749 §4.1.2, RFC 9700 §4.5) and is audited; a replay
// with a wrong verifier leaves the key alone.
func (s *Service) ExchangeAuthCode(ctx context.Context, r *ExchangeRequest) (*ExchangeResult, error) {
	if r.Code == "" {
		return nil, Errorf(EINVALID, "code is required")
	}
	c, err := s.authCode(ctx, HashSecret(r.Code))
	if errors.Is(err, ErrNotFound) {
		return nil, errInvalidCode
	} else if err != nil {
		return nil, fmt.Errorf("auth code: %w", err)
	}
	method := pkce.Method(c.CodeChallengeMethod)
	if c.CodeChallenge == "" {
		if r.CodeVerifier != "" || r.CodeChallengeMethod != nil {
			return nil, errInvalidMethod
		}
	} else if r.CodeChallengeMethod != nil && *r.CodeChallengeMethod != string(method) {
		return nil, errInvalidMethod
	}
	holdsSecret := c.CodeChallenge == "" || pkce.Verify(method, c.CodeChallenge, r.CodeVerifier) == nil
	if c.UsedAt != nil {
		if holdsSecret {
			s.revokeReplayed(ctx, c)
		}
		return nil, errInvalidCode
	}
	if !s.Now().Before(c.ExpiresAt) {
		return nil, errCodeExpired
	}
	if !holdsSecret {
		return nil, errInvalidCode
	}
	// A code is worth no more than the key that made it, management key or
	// not: once that key (or one of its ancestors) is disabled, expired or
	// deleted, the code mints nothing.
	if _, err := s.activeAncestors(ctx, &APIKey{ParentHash: c.CreatorKeyHash}); err != nil {
		if ErrorCode(err) == EINTERNAL {
			return nil, err
		}
		return nil, errInvalidCode
	}
	return s.redeem(ctx, c)
}

// authCode returns the code with hash as the exchange starts from: the one
// this process made, taken from memory so that a second exchange of it
// reads the store, else the store's.
//
// A remembered code may have been exchanged on another process, or
// deleted, since: the store's conditional update in redeem is the gate of
// single use, and what it answers then (ErrCodeUsed, ErrNotFound) is
// handled as if the store had been read first. Everything else the
// exchange checks of a code (its challenge, expiry and creator) never
// changes.
func (s *Service) authCode(ctx context.Context, hash string) (*AuthCode, error) {
	if c, ok := s.codes.take(hash); ok {
		return c, nil
	}
	return s.store.AuthCode(ctx, hash)
}

// redeem mints the code's key and lets the store's conditional update decide
// whether this exchange is the one that wins.
func (s *Service) redeem(ctx context.Context, c *AuthCode) (*ExchangeResult, error) {
	secret := NewKey(s.cfg.KeyPrefix)
	now := s.Now()
	appID := c.AppID
	k := &APIKey{
		Hash:          HashSecret(secret),
		UserID:        c.UserID,
		WorkspaceID:   c.WorkspaceID,
		AppID:         &appID,
		ParentHash:    c.ParentKeyHash,
		Name:          c.KeyLabel,
		Limit:         c.Limit,
		LimitReset:    c.LimitReset,
		ExpiresAt:     c.KeyExpiresAt,
		CreatorUserID: c.UserID,
		CreatedAt:     now,
	}
	k.Label = labelOf(k.Name, secret)
	audit := s.auditEvent(ctx, AuditEvent{Action: AuditCodeExchanged, ActorUserID: c.UserID, AppID: &appID, KeyHashPrefix: hashPrefix(k.Hash)})
	switch err := s.store.RedeemAuthCode(ctx, c.Hash, now, k, audit); {
	case errors.Is(err, ErrCodeUsed):
		// Another exchange with the code's secret won the race: by the same
		// rule as a sequential replay, the key it minted is disabled.
		latest, err := s.store.AuthCode(context.WithoutCancel(ctx), c.Hash)
		if err != nil {
			s.revokeFailed(ctx, c, fmt.Errorf("read the redeemed code: %w", err))
			return nil, errInvalidCode
		}
		s.revokeReplayed(ctx, latest)
		return nil, errInvalidCode
	case errors.Is(err, ErrNotFound):
		// The code, or its workspace, was deleted since it was read.
		return nil, errInvalidCode
	case err != nil:
		return nil, fmt.Errorf("redeem auth code: %w", err)
	}
	s.audited(ctx, audit)
	return &ExchangeResult{Key: secret, UserID: c.UserID, Hash: k.Hash}, nil
}

// revokeReplayed disables the key minted from a code that was presented
// again by a holder of its secret.
func (s *Service) revokeReplayed(ctx context.Context, c *AuthCode) {
	s.audit(ctx, AuditEvent{Action: AuditReplayDetected, ActorUserID: c.UserID, AppID: &c.AppID, KeyHashPrefix: hashPrefix(c.KeyHash), Detail: "code " + hashPrefix(c.Hash)})
	if c.KeyHash == "" {
		return
	}
	if _, err := s.setDisabled(context.WithoutCancel(ctx), c.KeyHash, true); err != nil && !errors.Is(err, ErrNotFound) {
		s.revokeFailed(ctx, c, fmt.Errorf("disable key: %w", err))
	}
}

// revokeFailed logs at ERROR and audits that the key minted from a
// replayed code could not be revoked, so that an operator can disable it
// by hand; the replay is answered as it would be anyway.
func (s *Service) revokeFailed(ctx context.Context, c *AuthCode, err error) {
	s.log.ErrorContext(ctx, "replay: revoke the minted key", "code", hashPrefix(c.Hash), "key", hashPrefix(c.KeyHash), "err", err)
	s.audit(ctx, AuditEvent{Action: AuditReplayRevokeFailed, ActorUserID: c.UserID, AppID: &c.AppID, KeyHashPrefix: hashPrefix(c.KeyHash), Detail: "code " + hashPrefix(c.Hash)})
}

// labelOf returns name, or the masked key when name is empty.
func labelOf(name, secret string) string {
	if name != "" {
		return name
	}
	return MaskKey(secret)
}
