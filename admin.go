package keygate

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The operator's side of the service: what `keygate` commands do on the
// database with no user signed in. Each goes through the same rules,
// cache and audit trail as the API.

// UsedCodeRetention is how long a code is kept after it expired or was
// used: a used code is what recognises a replay (RFC 6749 §4.1.2), so it
// outlives its own expiry long enough for a late replay to be caught and
// the key it minted revoked.
const UsedCodeRetention = 24 * time.Hour

// SweepAuthCodes deletes the codes that expired, and the used ones, more
// than UsedCodeRetention ago, and returns how many went. A server calls
// it periodically.
func (s *Service) SweepAuthCodes(ctx context.Context) (int64, error) {
	n, err := s.store.DeleteExpiredAuthCodes(ctx, s.Now().Add(-UsedCodeRetention))
	if err != nil {
		return 0, fmt.Errorf("sweep auth codes: %w", err)
	}
	return n, nil
}

// KeyByHash returns the key whose hash (hex SHA-256 of the secret) is
// hash, whoever owns it. Errors: EINVALID "hash …" unless hash is 64
// lower-case hex digits; ENOTFOUND when no key has it.
func (s *Service) KeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	if !isKeyHash(hash) {
		return nil, Errorf(EINVALID, "hash must be the whole key hash, 64 lower-case hex digits")
	}
	k, err := s.store.Key(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, errKeyNotFound
	} else if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return k, nil
}

// SetKeyDisabledByHash disables or enables the key with hash for its
// owner, as SetKeyDisabled does, and returns it as it is after. Errors:
// those of KeyByHash.
func (s *Service) SetKeyDisabledByHash(ctx context.Context, hash string, disabled bool) (*APIKey, error) {
	k, err := s.KeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return s.SetKeyDisabled(ctx, k.UserID, hash, disabled)
}

// DeleteKeyByHash deletes the key with hash for its owner, as DeleteKey
// does, and returns the key as it was. Errors: those of KeyByHash.
func (s *Service) DeleteKeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	k, err := s.KeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteKey(ctx, k.UserID, hash); err != nil {
		return nil, err
	}
	return k, nil
}

// FollowChanges keeps the service's caches in step with the changes that
// every process on the database announces (other replicas on PostgreSQL;
// `keygate keys disable|delete` on the same SQLite file) until ctx is
// done, and returns ctx's error. onError, when not nil, is told why
// listening was interrupted; listening then starts again. For a store
// without a ChangeFeed it returns nil at once: there is nothing to follow.
func (s *Service) FollowChanges(ctx context.Context, onError func(error)) error {
	feed, ok := s.store.(ChangeFeed)
	if !ok {
		return nil
	}
	inv := s.Invalidations()
	inv.Error = onError
	return feed.Listen(ctx, inv)
}
