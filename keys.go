package keygate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Unauthorized messages. They never echo the presented key.
var (
	errMissingAuth     = &Error{Code: EUNAUTHORIZED, Message: "Missing Authentication header"}
	errInvalidKey      = &Error{Code: EUNAUTHORIZED, Message: "Invalid API key"}
	errDisabledKey     = &Error{Code: EUNAUTHORIZED, Message: "API key is disabled"}
	errExpiredKey      = &Error{Code: EUNAUTHORIZED, Message: "API key has expired"}
	errManagement      = &Error{Code: EFORBIDDEN, Message: MsgManagement}
	errManagementSpend = &Error{Code: EFORBIDDEN, Message: MsgManagementSpend}
)

// checkSpender says whether k may spend at now: a disabled or expired key
// is EUNAUTHORIZED, a management key EFORBIDDEN MsgManagementSpend
// (management keys only manage keys, as OpenRouter's do).
func checkSpender(k *APIKey, now time.Time) error {
	switch {
	case k.Disabled:
		return errDisabledKey
	case k.Expired(now):
		return errExpiredKey
	case k.IsManagement:
		return errManagementSpend
	}
	return nil
}

// maxChain bounds how many delegation ancestors are followed.
const maxChain = 8

// Authenticate returns the active key whose secret is key, or the key an
// access token of the token exchange spends through (a JWT: its signature
// is checked once, then the token is cached like a key). On the hot path
// it costs one SHA-256 and one cache lookup. Errors are EUNAUTHORIZED:
// missing, malformed or unknown key, a disabled or expired key, or a key
// whose delegation parent is disabled, expired or gone.
func (s *Service) Authenticate(ctx context.Context, key string) (*APIKey, error) {
	if key == "" {
		return nil, errMissingAuth
	}
	if looksLikeJWT(key) {
		return s.authenticateAccessToken(ctx, key)
	}
	if !WellFormedKey(key) {
		return nil, errInvalidKey
	}
	k, err := s.activeKey(ctx, HashSecret(key))
	if err != nil {
		return nil, err
	}
	// Delegated keys live only as long as every ancestor does.
	if _, err := s.activeAncestors(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// activeAncestors returns k's delegation ancestors, parent first, checking
// that each is usable now. It fails closed: an ancestor that is disabled,
// expired or gone, or a chain longer than maxChain (CreateAuthCode never
// makes one), is EUNAUTHORIZED; a store failure is returned as it is.
func (s *Service) activeAncestors(ctx context.Context, k *APIKey) ([]*APIKey, error) {
	var chain []*APIKey
	for p := k; p.ParentHash != ""; {
		if len(chain) == maxChain {
			return nil, errInvalidKey
		}
		var err error
		if p, err = s.activeKey(ctx, p.ParentHash); err != nil {
			if ErrorCode(err) == EINTERNAL {
				return nil, err
			}
			return nil, errInvalidKey
		}
		chain = append(chain, p)
	}
	return chain, nil
}

// activeKey loads a key through the cache and checks it is usable now.
func (s *Service) activeKey(ctx context.Context, hash string) (*APIKey, error) {
	k, err := s.cachedKey(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, errInvalidKey
	} else if err != nil {
		return nil, err
	}
	switch {
	case k.Disabled:
		return nil, errDisabledKey
	case k.Expired(s.Now()):
		return nil, errExpiredKey
	}
	return k, nil
}

func (s *Service) cachedKey(ctx context.Context, hash string) (*APIKey, error) {
	now := s.now()
	k, gens, state := s.keys.lookup(hash, now)
	s.obs.KeyLookup(state != cacheMiss)
	switch state {
	case cacheHit:
		return k, nil
	case cacheRefresh:
		s.background(func() { s.reloadKey(hash) })
		return k, nil
	case cacheUnknown:
		return nil, ErrNotFound
	}
	ch := s.loads.DoChan(hash, func() (any, error) {
		// A read of hash that ended between this caller's lookup and
		// DoChan has filled the cache: look again before reading. An
		// entry already due for its reload is read here, in this read
		// of hash, rather than in another one that would wait for it.
		switch k, g, state := s.keys.lookup(hash, now); state {
		case cacheHit:
			return k, nil
		case cacheUnknown:
			return nil, ErrNotFound
		default:
			gens = g
		}
		// Not the caller's cancellation: other callers may share the read.
		return s.loadKey(context.WithoutCancel(ctx), hash, now, gens)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*APIKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// loadKey reads the key with hash and its usage in the periods of now from
// the store, in one statement, and caches both (or that the store does not
// know hash) unless the shard changed since lookup returned gens.
func (s *Service) loadKey(ctx context.Context, hash string, now time.Time, gens cacheGens) (*APIKey, error) {
	p := PeriodsAt(now.UTC())
	want := Counters(hash, p)
	k, rows, err := s.store.KeyWithUsage(ctx, hash, want[:])
	if errors.Is(err, ErrNotFound) {
		s.keys.putUnknown(hash, now, gens.key)
		return nil, err
	} else if err != nil {
		return nil, err
	}
	s.keys.putWithUsage(k, FoldUsage(p, rows), now, gens)
	return k, nil
}

// reloadKey reads a cached key again before its entry expires, so that a
// key in steady use is never a miss. A key the store no longer has leaves
// the cache.
func (s *Service) reloadKey(hash string) {
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	now := s.now()
	gens := s.keys.gens(hash)
	if _, err, _ := s.loads.Do(hash, func() (any, error) { return s.loadKey(ctx, hash, now, gens) }); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("key cache: reload", "key", hashPrefix(hash), "err", err)
	}
}

// reloadTimeout bounds a background reload of a cached key.
const reloadTimeout = 10 * time.Second

// InvalidateKey drops a key from this replica's cache. Store adapters that
// hear of changes made by other replicas call it.
func (s *Service) InvalidateKey(hash string) { s.keys.delete(hash) }

// InvalidateAll drops every cached key, for when change notifications may
// have been missed.
func (s *Service) InvalidateAll() {
	s.keys.clear()
	s.defaults.clear()
}

// Invalidations returns the Invalidations that keep s's caches in step
// with a store's ChangeFeed: a changed key leaves the key cache and stops
// its lease being spent, a key charged on another replica has its cached
// usage dropped (GET /api/v1/key shows the charge at once there too),
// a user granted credits or charged elsewhere has their balance read
// again, a workspace whose budgets changed has them read again and its
// budget leases given back, a changed guardrail empties the policy cache,
// and a reset empties every cache. Sessions and apps are not cached by the
// service, so their announcements need nothing. Set Error on the result to
// hear of interruptions.
func (s *Service) Invalidations() Invalidations {
	return Invalidations{
		Changed: func(kind, id string) {
			switch kind {
			case ChangeKey:
				s.InvalidateKey(id)
				s.spend.keyChanged(id)
			case ChangeUsage:
				if userID, ok := accountOf(id); ok {
					s.credits.spent(userID, s.Now())
				} else {
					s.InvalidateUsage(id)
					s.spend.usageChanged(id)
				}
			case ChangeCredits:
				s.credits.drop(id)
			case ChangeBudget:
				s.budgetsChanged(id)
			case ChangeGuardrail:
				s.guardrailChanged(id)
			}
		},
		Reset: func() {
			s.InvalidateAll()
			s.spend.allChanged()
			s.credits.clear()
			s.budgets.clear()
			s.policies.clear()
		},
	}
}

// InvalidateUsage drops the usage cached for a key, so that the next
// KeyInfo reads it from the store. Settle does it for the usage it
// records; store adapters that hear of usage recorded by other replicas
// may call it, or leave it to Config.UsageCacheTTL.
func (s *Service) InvalidateUsage(hash string) { s.keys.dropUsage(hash) }

// RequireManagement returns EFORBIDDEN MsgManagement unless k is a
// management key (OpenRouter: /keys* need one).
func RequireManagement(k *APIKey) error {
	if !k.IsManagement {
		return errManagement
	}
	return nil
}

// KeyInfo is a key with its usage, as GET /api/v1/key and the management
// API report it.
type KeyInfo struct {
	Key       *APIKey
	Usage     Usage
	Remaining *Micros // nil when there is no limit
}

// KeyInfo returns k's usage and remaining limit now. The usage of a cached
// key comes from the cache (see Config.UsageCacheTTL), so that GET
// /api/v1/key costs no database round trip.
func (s *Service) KeyInfo(ctx context.Context, k *APIKey) (*KeyInfo, error) {
	now := s.Now()
	u, gen, ok := s.keys.usage(k.Hash, now)
	if !ok {
		var err error
		if u, err = s.keyUsage(ctx, k.Hash, PeriodsAt(now)); err != nil {
			return nil, err
		}
		s.keys.putUsage(k.Hash, u, now, gen)
	}
	return &KeyInfo{Key: k, Usage: u, Remaining: Remaining(k.Limit, k.LimitReset, k.IncludeBYOK, u)}, nil
}

// NewKeyParams describes a key created directly (CLI or POST /api/v1/keys).
type NewKeyParams struct {
	UserID       string
	WorkspaceID  *string // a UUID of one of the user's workspaces; nil for the default
	Name         string  // required: 1 to 100 code points, trimmed
	IsManagement bool
	LimitUSD     *float64
	LimitReset   string
	ExpiresAt    *string // RFC 3339; UTC only (OpenRouter POST /keys)
	IncludeBYOK  bool
}

// CreateKey creates a key and returns its one-time secret with the stored
// key. Errors are EINVALID naming the field: name (required, OpenRouter
// CreateKeysRequest minLength 1), limit, limit_reset, expires_at (UTC, in
// the future), workspace_id (a UUID of one of the user's workspaces).
func (s *Service) CreateKey(ctx context.Context, p NewKeyParams) (string, *APIKey, error) {
	if err := checkName("name", p.Name); err != nil {
		return "", nil, err
	}
	k := &APIKey{UserID: p.UserID, Name: strings.TrimSpace(p.Name), IsManagement: p.IsManagement, IncludeBYOK: p.IncludeBYOK, CreatorUserID: p.UserID}
	if p.LimitUSD != nil {
		m, err := MicrosFromUSD("limit", *p.LimitUSD)
		if err != nil {
			return "", nil, err
		}
		k.Limit = &m
	}
	reset, err := ParseLimitReset("limit_reset", p.LimitReset)
	if err != nil {
		return "", nil, err
	}
	k.LimitReset = reset
	if p.ExpiresAt != nil {
		t, err := s.parseExpiry("expires_at", *p.ExpiresAt, true)
		if err != nil {
			return "", nil, err
		}
		k.ExpiresAt = &t
	}
	ws, err := s.resolveWorkspace(ctx, p.UserID, p.WorkspaceID, "workspace_id")
	if err != nil {
		return "", nil, err
	}
	k.WorkspaceID = ws.ID
	secret := NewKey(s.cfg.KeyPrefix)
	k.Hash = HashSecret(secret)
	k.Label = labelOf(k.Name, secret)
	k.CreatedAt = s.Now()
	if err := s.store.CreateKey(ctx, k); errors.Is(err, ErrNotFound) {
		// The workspace was deleted since resolveWorkspace read it.
		return "", nil, errNotYourWorkspace("workspace_id")
	} else if err != nil {
		return "", nil, fmt.Errorf("create key: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditKeyCreated, ActorUserID: p.UserID, KeyHashPrefix: hashPrefix(k.Hash)})
	return secret, k, nil
}

// setDisabled enables or disables a key, drops it from the cache and
// audits the change. It writes the disabled flag alone, in one store
// update, so a concurrent PATCH of the key's other fields cannot undo it;
// of concurrent calls with the same flag, only the one that changed the key
// audits. ErrNotFound if there is no key with hash.
func (s *Service) setDisabled(ctx context.Context, hash string, disabled bool) (*APIKey, error) {
	before, after, err := s.store.UpdateKey(ctx, hash, KeyPatch{Disabled: &disabled, UpdatedAt: s.Now()})
	if err != nil {
		return nil, err
	}
	// Dropped even when nothing changed: this replica may have cached the
	// key before another one changed it.
	s.keys.delete(hash)
	if before.Disabled == after.Disabled {
		return after, nil
	}
	if disabled {
		s.audit(ctx, AuditEvent{Action: AuditKeyDisabled, ActorUserID: after.UserID, AppID: after.AppID, KeyHashPrefix: hashPrefix(hash)})
	} else {
		s.audit(ctx, AuditEvent{Action: AuditKeyUpdated, ActorUserID: after.UserID, AppID: after.AppID, KeyHashPrefix: hashPrefix(hash), Detail: "enabled"})
	}
	return after, nil
}
