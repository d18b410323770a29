package keygate

import (
	"context"
	"sync"
)

// EUNAVAILABLE is 503: the store cannot be reached to authorize spending.
const EUNAVAILABLE = "unavailable"

// Reservation is money held for one request in flight. Opaque; its methods
// are nil-safe.
type Reservation struct {
	svc  *Service
	key  *APIKey
	once sync.Once
}

// Reserve admits one request by k (already authenticated) and holds up to
// want micro-dollars for it.
//
// This is the simple form of the spending contract: it checks k and its
// ancestors as CanSpend does and holds nothing, so concurrent requests may
// overshoot a limit by what they spend together. Errors: EUNAUTHORIZED,
// EFORBIDDEN "Key limit exceeded (<window> limit)".
func (s *Service) Reserve(ctx context.Context, k *APIKey, want Micros) (*Reservation, error) {
	if err := s.CanSpend(ctx, k); err != nil {
		return nil, err
	}
	return &Reservation{svc: s, key: k}, nil
}

// Release gives back r without a charge. A no-op after Settle or a second
// Release; nil-safe.
func (r *Reservation) Release() {
	if r != nil {
		r.once.Do(func() {})
	}
}

// Settle charges g.Cost to the key r was held for (and its ancestors, in the
// periods containing g.CreatedAt), stores g for Service.Generation and
// releases r. Settling the same g.ID twice charges once.
func (s *Service) Settle(ctx context.Context, r *Reservation, g *Generation) error {
	r.Release()
	if g.KeyHash == "" && r != nil {
		g.KeyHash, g.UserID, g.WorkspaceID = r.key.Hash, r.key.UserID, r.key.WorkspaceID
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.Now()
	}
	if !s.gens.add(g) {
		return nil
	}
	return s.RecordUsage(ctx, &UsageEvent{
		KeyHash: g.KeyHash, AppID: g.AppID, Model: g.Model,
		PromptTokens: g.PromptTokens, CompletionTokens: g.CompletionTokens,
		Cost: g.Cost, BYOK: g.BYOK, CreatedAt: g.CreatedAt,
	})
}

// AttributeApp returns the app k was minted for (nil when none).
func (s *Service) AttributeApp(ctx context.Context, k *APIKey, a Attribution) (*int64, error) {
	return k.AppID, nil
}
