package keygate

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// RecordUsage meters one request: it stores ev and adds ev.Cost
// (micro-dollars; to the BYOK counters when ev.BYOK) to the all-time, UTC
// day, ISO week and UTC month counters of ev.KeyHash and of every
// delegation ancestor of that key (APIKey.ParentHash, at most maxChain
// deep), so that a delegated key's spending also counts against the key it
// was minted from (DESIGN.md "Delegation never escalates"). The periods are
// those containing ev.CreatedAt, which defaults to the service clock's now.
//
// Usage is recorded even for a key that is disabled, expired or gone: the
// request was served and must be paid for. The store adds in the database,
// so concurrent calls never lose an update.
//
// Errors: EINVALID when KeyHash is empty or a cost or token count is
// negative.
func (s *Service) RecordUsage(ctx context.Context, ev *UsageEvent) error {
	switch {
	case ev.KeyHash == "":
		return Errorf(EINVALID, "key_hash is required")
	case ev.Cost < 0:
		return Errorf(EINVALID, "cost must be >= 0")
	case ev.PromptTokens < 0:
		return Errorf(EINVALID, "prompt_tokens must be >= 0")
	case ev.CompletionTokens < 0:
		return Errorf(EINVALID, "completion_tokens must be >= 0")
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = s.Now()
	}
	ev.CreatedAt = ev.CreatedAt.UTC()
	hashes, err := s.chainHashes(ctx, ev.KeyHash)
	if err != nil {
		return err
	}
	err = s.store.RecordUsage(ctx, ev, hashes, PeriodsAt(ev.CreatedAt))
	// Dropped after the write, and on failure too (a commit may have
	// happened before the error): the next KeyInfo reads the new sums.
	for _, h := range hashes {
		s.keys.dropUsage(h)
	}
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// chainHashes returns hash followed by the hashes of its delegation
// ancestors that still exist. A key that is gone ends the chain.
func (s *Service) chainHashes(ctx context.Context, hash string) ([]string, error) {
	hashes := []string{hash}
	for h := hash; len(hashes) <= maxChain; {
		k, err := s.cachedKey(ctx, h)
		if errors.Is(err, ErrNotFound) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		if k.ParentHash == "" || slices.Contains(hashes, k.ParentHash) {
			break
		}
		h = k.ParentHash
		hashes = append(hashes, h)
	}
	return hashes, nil
}

// CanSpend reports whether k may spend now: nil when k and every delegation
// ancestor are enabled, unexpired and under their limits.
//
// Errors: EUNAUTHORIZED when k or an ancestor is disabled, expired or gone
// (as for Authenticate); EFORBIDDEN "Key limit exceeded (<daily|weekly|
// monthly|total> limit)" when k or an ancestor has no limit left in its
// reset period (DESIGN.md "Limits"; a limit of 0 never allows spending).
func (s *Service) CanSpend(ctx context.Context, k *APIKey) error {
	now := s.Now()
	switch {
	case k.Disabled:
		return errDisabledKey
	case k.Expired(now):
		return errExpiredKey
	}
	ancestors, err := s.activeAncestors(ctx, k)
	if err != nil {
		return err
	}
	chain := append([]*APIKey{k}, ancestors...)
	periods := PeriodsAt(now)
	for _, c := range chain {
		if c.Limit == nil {
			continue
		}
		u, err := s.store.KeyUsage(ctx, c.Hash, periods)
		if err != nil {
			return fmt.Errorf("key usage: %w", err)
		}
		if u.PeriodUsage(c.LimitReset, c.IncludeBYOK) >= *c.Limit {
			return limitExceeded(c.LimitReset)
		}
	}
	return nil
}

// limitExceeded is the 403 a key past its limit gets (DESIGN.md "Limits").
func limitExceeded(r LimitReset) *Error {
	period := string(r)
	if r == ResetNone {
		period = "total"
	}
	return Errorf(EFORBIDDEN, "Key limit exceeded (%s limit)", period)
}
