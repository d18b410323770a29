package keygate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ServiceToken is an operator's credential for reporting usage from a
// proxy keygate does not run (POST /api/v1/usage). It can do nothing else,
// and a user's key cannot do what it does. Only the SHA-256 of the secret
// is stored.
type ServiceToken struct {
	ID        string // "st-" and 16 hex digits
	Name      string // the operator's label, 1 to 100 code points
	Hash      string // HashSecret of the secret
	CreatedAt time.Time
	RevokedAt *time.Time // nil while the token works
}

// ServiceTokenPrefix starts every service token's secret. The rest is
// 64 hex digits without the "v1-" of keys, so a service token is never a
// well-formed key, and Authenticate refuses it.
const ServiceTokenPrefix = "kgst-"

var errInvalidServiceToken = &Error{Code: EUNAUTHORIZED, Message: "Invalid service token"}

// CreateServiceToken makes a service token named name and returns its
// secret, shown once, with the stored token. Errors: EINVALID naming
// "name" when it is empty or longer than 100 code points.
func (s *Service) CreateServiceToken(ctx context.Context, name string) (string, *ServiceToken, error) {
	if err := checkName("name", name); err != nil {
		return "", nil, err
	}
	var b [32]byte
	rand.Read(b[:])
	secret := ServiceTokenPrefix + hex.EncodeToString(b[:])
	var id [8]byte
	rand.Read(id[:])
	t := &ServiceToken{ID: "st-" + hex.EncodeToString(id[:]), Name: strings.TrimSpace(name), Hash: HashSecret(secret), CreatedAt: s.Now()}
	if err := s.store.CreateServiceToken(ctx, t); err != nil {
		return "", nil, fmt.Errorf("create service token: %w", err)
	}
	return secret, t, nil
}

// ServiceTokens returns every service token, revoked ones included,
// oldest first.
func (s *Service) ServiceTokens(ctx context.Context) ([]*ServiceToken, error) {
	ts, err := s.store.ListServiceTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("list service tokens: %w", err)
	}
	return ts, nil
}

// RevokeServiceToken revokes the service token with id at once: the next
// request that presents it is refused. ENOTFOUND when there is no such
// token or it is revoked already.
func (s *Service) RevokeServiceToken(ctx context.Context, id string) error {
	err := s.store.RevokeServiceToken(ctx, id, s.Now())
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENOTFOUND, "no service token %q that is not revoked", id)
	} else if err != nil {
		return fmt.Errorf("revoke service token: %w", err)
	}
	return nil
}

// AuthenticateService returns the service token whose secret is token.
// EUNAUTHORIZED for a missing, malformed, unknown or revoked token (a
// user's key among them); the message never echoes the token.
func (s *Service) AuthenticateService(ctx context.Context, token string) (*ServiceToken, error) {
	if token == "" {
		return nil, errMissingAuth
	}
	if !strings.HasPrefix(token, ServiceTokenPrefix) || len(token) != len(ServiceTokenPrefix)+64 {
		return nil, errInvalidServiceToken
	}
	t, err := s.store.ServiceTokenByHash(ctx, HashSecret(token))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errInvalidServiceToken
	case err != nil:
		return nil, fmt.Errorf("service token: %w", err)
	case t.RevokedAt != nil:
		return nil, errInvalidServiceToken
	}
	return t, nil
}
