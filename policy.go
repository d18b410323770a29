package keygate

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// A key's effective policy: what the guardrails assigned to it and to its
// delegation ancestors allow, combined as OpenRouter documents ("stricter
// rules always win"): the allow-lists intersect, an ignored model or
// provider is refused whichever guardrail ignores it, and every limit
// applies. It is computed once per change, when a key is first used after
// it, and cached; the hot path checks a set and the limits' balances.

// keyPolicy is a key's effective policy. Immutable once made.
type keyPolicy struct {
	// allowedModels is the intersection of the allowed_models of the
	// guardrails that have one; nil when none has (every model).
	allowedModels    map[string]struct{}
	ignoredModels    map[string]struct{}
	allowedProviders map[string]struct{}
	ignoredProviders map[string]struct{}
	// limits are the stand-in keys of the guardrails with a limit_usd
	// (guardrailKey), held on by Reserve like keys of the chain.
	limits []*APIKey
	// counters are the counter names of every guardrail of the policy: a
	// charge of the key adds to each.
	counters []string
}

// noPolicy is the policy of a key without guardrails.
var noPolicy = &keyPolicy{}

// guardrailPrefix starts the counter names of guardrails.
const guardrailPrefix = "guardrail:"

// GuardrailCounterHash is the name, in the usage counters and budget
// leases, of what the keys of a guardrail spend together:
// "guardrail:<id>". Every charge of an assigned key adds to its four
// counters (total, day, week, month).
func GuardrailCounterHash(id string) string { return guardrailPrefix + id }

// ParseGuardrailCounterHash returns the guardrail id of a name made by
// GuardrailCounterHash; ok is false for anything else.
func ParseGuardrailCounterHash(hash string) (id string, ok bool) {
	id, ok = strings.CutPrefix(hash, guardrailPrefix)
	return id, ok && id != ""
}

// guardrailKey is the stand-in key that admission holds on for g's limit.
func guardrailKey(g *Guardrail) *APIKey {
	limit := *g.Limit
	return &APIKey{Hash: GuardrailCounterHash(g.ID), Limit: &limit, LimitReset: g.LimitReset, IncludeBYOK: g.IncludeBYOK}
}

// newKeyPolicy combines guardrails (those of a key and of its ancestors;
// one guardrail may appear more than once).
func newKeyPolicy(guardrails []*Guardrail) *keyPolicy {
	if len(guardrails) == 0 {
		return noPolicy
	}
	p := &keyPolicy{}
	seen := map[string]bool{}
	for _, g := range guardrails {
		if seen[g.ID] {
			continue
		}
		seen[g.ID] = true
		p.allowedModels = intersect(p.allowedModels, g.AllowedModels)
		p.allowedProviders = intersect(p.allowedProviders, g.AllowedProviders)
		p.ignoredModels = union(p.ignoredModels, g.IgnoredModels)
		p.ignoredProviders = union(p.ignoredProviders, g.IgnoredProviders)
		if g.Limit != nil {
			p.limits = append(p.limits, guardrailKey(g))
		}
		p.counters = append(p.counters, GuardrailCounterHash(g.ID))
	}
	return p
}

// intersect returns set ∩ list, or list as a set when set is nil (no
// restriction yet); a nil list restricts nothing.
func intersect(set map[string]struct{}, list []string) map[string]struct{} {
	if list == nil {
		return set
	}
	out := make(map[string]struct{}, len(list))
	for _, v := range list {
		if _, ok := set[v]; set == nil || ok {
			out[v] = struct{}{}
		}
	}
	return out
}

func union(set map[string]struct{}, list []string) map[string]struct{} {
	if len(list) == 0 {
		return set
	}
	if set == nil {
		set = make(map[string]struct{}, len(list))
	}
	for _, v := range list {
		set[v] = struct{}{}
	}
	return set
}

// policyCache maps key hashes to their policies. Any guardrail change
// empties it: changes are rare, and a key's policy depends on every
// guardrail assigned to it or to an ancestor.
type policyCache struct {
	mu  sync.RWMutex
	m   map[string]*keyPolicy
	gen uint64
	max int
}

func newPolicyCache(max int) *policyCache {
	return &policyCache{m: make(map[string]*keyPolicy), max: max}
}

// drop forgets the policy of the key with hash.
func (c *policyCache) drop(hash string) {
	c.mu.Lock()
	delete(c.m, hash)
	c.gen++
	c.mu.Unlock()
}

func (c *policyCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.gen++
	c.mu.Unlock()
}

// policyOf returns k's effective policy, from the cache or computed from
// the guardrails of k and its delegation ancestors.
func (s *Service) policyOf(ctx context.Context, k *APIKey) (*keyPolicy, error) {
	c := s.policies
	c.mu.RLock()
	p, ok := c.m[k.Hash]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	var all []*Guardrail
	hash := k.Hash
	for i := 0; hash != "" && i <= maxChain; i++ {
		gs, err := s.store.KeyGuardrails(ctx, hash)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("key guardrails: %w: %w", errUnavailable, err)
		}
		all = append(all, gs...)
		if hash == k.Hash {
			hash = k.ParentHash
			continue
		}
		parent, err := s.cachedKey(ctx, hash)
		if err != nil {
			break // a gone ancestor: Reserve and Admit refuse the key
		}
		hash = parent.ParentHash
	}
	p = newKeyPolicy(all)
	c.mu.Lock()
	if c.gen == gen {
		if len(c.m) >= c.max {
			for old := range c.m { // random eviction
				delete(c.m, old)
				break
			}
		}
		c.m[k.Hash] = p
	}
	c.mu.Unlock()
	return p, nil
}

// guardrailChanged drops every cached policy and stops spending the
// guardrail's leases: it was changed, perhaps by another process.
func (s *Service) guardrailChanged(id string) {
	s.policies.clear()
	s.spend.keyChanged(GuardrailCounterHash(id))
}

// CheckModel decides whether k, a key that Authenticate returned, may use
// model, served by the upstream named provider (the gateway's models
// file), under its guardrails and those of its delegation ancestors. A
// model outside an allowed_models list, or in an ignored_models list, is
// EFORBIDDEN `Model "<model>" is not allowed by this key's guardrails`;
// the provider likewise, `Provider "<provider>" of model "<model>" is not
// allowed by this key's guardrails`. EUNAVAILABLE when the guardrails
// cannot be read. A key without guardrails costs one map lookup.
func (s *Service) CheckModel(ctx context.Context, k *APIKey, model, provider string) error {
	p, err := s.policyOf(ctx, k)
	if err != nil {
		return err
	}
	if !allows(p.allowedModels, p.ignoredModels, model) {
		err := Errorf(EFORBIDDEN, msgModelRefused+"%q is not allowed by this key's guardrails", model)
		s.observeRefusal(err)
		return err
	}
	if !allows(p.allowedProviders, p.ignoredProviders, provider) {
		err := Errorf(EFORBIDDEN, msgProviderRefused+"%q of model %q is not allowed by this key's guardrails", provider, model)
		s.observeRefusal(err)
		return err
	}
	return nil
}

func allows(allowed, ignored map[string]struct{}, v string) bool {
	if _, no := ignored[v]; no {
		return false
	}
	_, ok := allowed[v]
	return allowed == nil || ok
}
