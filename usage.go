package keygate

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// chainHashes returns hash followed by the hashes of its delegation
// ancestors that still exist, at most maxChain of them. A key that is gone
// ends the chain: a charge reported for a deleted key still counts for the
// key itself.
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

// keyUsage reads the usage of the key with hash in the periods p from the
// store.
func (s *Service) keyUsage(ctx context.Context, hash string, p Periods) (Usage, error) {
	want := Counters(hash, p)
	rows, err := s.store.UsageCounters(ctx, hash, want[:])
	if err != nil {
		return Usage{}, fmt.Errorf("usage counters: %w", err)
	}
	return FoldUsage(p, rows), nil
}
