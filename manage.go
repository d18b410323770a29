package keygate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyPageSize is how many keys one page of GET /api/v1/keys holds.
const KeyPageSize = 100

// errKeyNotFound answers for a key that does not exist and for a key of
// another user alike, so that hashes cannot be probed.
var errKeyNotFound = &Error{Code: ENOTFOUND, Message: "API key not found"}

// ListKeysParams selects a page of a user's keys (OpenRouter GET /keys).
type ListKeysParams struct {
	UserID string
	// WorkspaceID is a UUID of one of the user's workspaces; nil is the
	// default workspace, as the spec says ("By default, keys in the
	// default workspace are returned").
	WorkspaceID *string
	// AllWorkspaces lists keys of every workspace of the user, ignoring
	// WorkspaceID (the CLI's view).
	AllWorkspaces   bool
	IncludeDisabled bool
	Offset          int // keys to skip, >= 0
	Limit           int // page size; <= 0 is KeyPageSize
}

// ListKeys returns one page of a user's keys with their usage now, newest
// first. Errors: EINVALID "offset …" for a negative offset, EINVALID
// "workspace_id …" when WorkspaceID is not a UUID of one of the user's
// workspaces.
func (s *Service) ListKeys(ctx context.Context, p ListKeysParams) ([]*KeyInfo, error) {
	if p.Offset < 0 {
		return nil, Errorf(EINVALID, "offset must be a non-negative integer")
	}
	f := KeyFilter{UserID: p.UserID, IncludeDisabled: p.IncludeDisabled, Offset: p.Offset, Limit: p.Limit}
	if f.Limit <= 0 {
		f.Limit = KeyPageSize
	}
	if !p.AllWorkspaces {
		ws, err := s.resolveWorkspace(ctx, p.UserID, p.WorkspaceID, "workspace_id")
		if err != nil {
			return nil, err
		}
		f.WorkspaceID = ws.ID
	}
	keys, err := s.store.ListKeys(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	infos := make([]*KeyInfo, 0, len(keys))
	for _, k := range keys {
		info, err := s.KeyInfo(ctx, k)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// GetKey returns the user's key with hash and its usage now. Errors:
// ENOTFOUND when there is no such key or it belongs to another user.
func (s *Service) GetKey(ctx context.Context, userID, hash string) (*KeyInfo, error) {
	k, err := s.ownKey(ctx, userID, hash)
	if err != nil {
		return nil, err
	}
	return s.KeyInfo(ctx, k)
}

// ownKey loads the key with hash from the store (not the cache: the
// management API shows the latest state) and checks that userID owns it.
func (s *Service) ownKey(ctx context.Context, userID, hash string) (*APIKey, error) {
	if !isKeyHash(hash) {
		// Not the form HashSecret gives: it names no key, and it never
		// reaches the store (PostgreSQL refuses NUL and invalid UTF-8 in
		// text, which would be a 500 for a client's typo).
		return nil, errKeyNotFound
	}
	k, err := s.store.Key(ctx, hash)
	if errors.Is(err, ErrNotFound) || (err == nil && k.UserID != userID) {
		return nil, errKeyNotFound
	} else if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return k, nil
}

// KeyUpdate is a change to a key (OpenRouter PATCH /keys/{hash}). A nil
// pointer leaves its field alone. Limit and LimitReset can be removed, so
// their presence is carried apart from their value.
type KeyUpdate struct {
	Name     *string // 1 to 100 code points
	Disabled *bool
	// SetLimit says the request carried limit; LimitUSD nil then removes
	// the limit (no cap), a value sets it in USD.
	SetLimit bool
	LimitUSD *float64
	// SetLimitReset says the request carried limit_reset; LimitReset nil
	// (or "") then makes the limit apply to all-time usage.
	SetLimitReset bool
	LimitReset    *string
	IncludeBYOK   *bool
	// ExpiresAt moves the key's expiry earlier: an RFC 3339 date-time in
	// the future, no later than the key's expiry. An expiry is never
	// extended: a key outlives nothing its owner agreed to.
	ExpiresAt *string
}

// UpdateKey applies u to the user's key with hash, drops the key from the
// cache so the change holds from the next request on, audits it and returns
// the key with its usage. Only the fields u carries are written, in one
// atomic store update, so a concurrent PATCH of other fields (or a replay
// revocation) is never undone by this one. A PATCH that changes nothing
// leaves the key, updated_at included, as it was. An expiry can only be
// moved earlier (the store's update takes the earlier of the two).
//
// Errors: ENOTFOUND as for GetKey; EINVALID naming name, limit,
// limit_reset or expires_at (not RFC 3339, not in the future, or later
// than the key's expiry).
func (s *Service) UpdateKey(ctx context.Context, userID, hash string, u KeyUpdate) (*KeyInfo, error) {
	k, err := s.ownKey(ctx, userID, hash)
	if err != nil {
		return nil, err
	}
	p, err := u.patch()
	if err != nil {
		return nil, err
	}
	if u.ExpiresAt != nil {
		t, err := s.parseExpiry("expires_at", *u.ExpiresAt, false)
		if err != nil {
			return nil, err
		}
		if k.ExpiresAt != nil && t.After(*k.ExpiresAt) {
			return nil, Errorf(EINVALID, "expires_at can only be moved earlier: the key expires at %s", k.ExpiresAt.Format(time.RFC3339))
		}
		p.ExpiresAt = &t
	}
	if p.Empty() {
		return s.KeyInfo(ctx, k)
	}
	p.UpdatedAt = s.Now()
	before, after, err := s.store.UpdateKey(ctx, hash, p)
	if errors.Is(err, ErrNotFound) {
		return nil, errKeyNotFound
	} else if err != nil {
		return nil, fmt.Errorf("update key: %w", err)
	}
	// Dropped even when nothing changed: this replica may have cached the
	// key before another one changed it.
	s.keys.delete(hash)
	changed := keyChanges(before, after)
	if len(changed) == 0 {
		return s.KeyInfo(ctx, after)
	}
	action := AuditKeyUpdated
	if after.Disabled && !before.Disabled {
		action = AuditKeyDisabled
	}
	s.audit(ctx, AuditEvent{Action: action, ActorUserID: userID, AppID: after.AppID, KeyHashPrefix: hashPrefix(hash), Detail: strings.Join(changed, ",")})
	return s.KeyInfo(ctx, after)
}

// patch checks u and converts it to the store's terms. Errors: EINVALID
// naming name, limit or limit_reset.
func (u KeyUpdate) patch() (KeyPatch, error) {
	var p KeyPatch
	if u.Name != nil {
		if err := checkName("name", *u.Name); err != nil {
			return p, err
		}
		name := strings.TrimSpace(*u.Name)
		p.Name, p.Label = &name, &name
	}
	if u.SetLimit {
		p.SetLimit = true
		if u.LimitUSD != nil {
			m, err := MicrosFromUSD("limit", *u.LimitUSD)
			if err != nil {
				return p, err
			}
			p.Limit = &m
		}
	}
	if u.SetLimitReset {
		r := ResetNone
		if u.LimitReset != nil {
			var err error
			if r, err = ParseLimitReset("limit_reset", *u.LimitReset); err != nil {
				return p, err
			}
		}
		p.LimitReset = &r
	}
	p.IncludeBYOK = u.IncludeBYOK
	p.Disabled = u.Disabled
	return p, nil
}

// keyChanges names what differs between a key before and after an update,
// in the request's terms, for the audit trail: name, limit, limit_reset,
// include_byok_in_limit, expires_at, then disabled or enabled.
func keyChanges(before, after *APIKey) []string {
	var changed []string
	if before.Name != after.Name || before.Label != after.Label {
		changed = append(changed, "name")
	}
	if !equalPtr(before.Limit, after.Limit) {
		changed = append(changed, "limit")
	}
	if before.LimitReset != after.LimitReset {
		changed = append(changed, "limit_reset")
	}
	if before.IncludeBYOK != after.IncludeBYOK {
		changed = append(changed, "include_byok_in_limit")
	}
	if (before.ExpiresAt == nil) != (after.ExpiresAt == nil) || before.ExpiresAt != nil && !before.ExpiresAt.Equal(*after.ExpiresAt) {
		changed = append(changed, "expires_at")
	}
	if before.Disabled != after.Disabled {
		changed = append(changed, map[bool]string{true: "disabled", false: "enabled"}[after.Disabled])
	}
	return changed
}

// equalPtr reports whether a and b are both nil or point to equal values.
func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// SetKeyDisabled disables or enables the user's key with hash, drops it from
// the cache and audits the change. Errors: ENOTFOUND as for GetKey.
func (s *Service) SetKeyDisabled(ctx context.Context, userID, hash string, disabled bool) (*APIKey, error) {
	if _, err := s.ownKey(ctx, userID, hash); err != nil {
		return nil, err
	}
	k, err := s.setDisabled(ctx, hash, disabled)
	if errors.Is(err, ErrNotFound) {
		return nil, errKeyNotFound
	} else if err != nil {
		return nil, fmt.Errorf("set disabled: %w", err)
	}
	return k, nil
}

// DeleteKey deletes the user's key with hash (OpenRouter DELETE
// /keys/{hash}). The key stops working on the very next request: it is
// dropped from this replica's cache here, and keys delegated from it fail
// authentication with it. Its usage events stay as history. Errors:
// ENOTFOUND as for GetKey, and for a key already deleted.
func (s *Service) DeleteKey(ctx context.Context, userID, hash string) error {
	k, err := s.ownKey(ctx, userID, hash)
	if err != nil {
		return err
	}
	if err := s.store.DeleteKey(ctx, hash); errors.Is(err, ErrNotFound) {
		return errKeyNotFound
	} else if err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	s.keys.delete(hash)
	s.audit(ctx, AuditEvent{Action: AuditKeyDeleted, ActorUserID: userID, AppID: k.AppID, KeyHashPrefix: hashPrefix(hash)})
	return nil
}

// isKeyHash reports whether h has the form of a key hash: 64 lower-case
// hex digits.
func isKeyHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkName is CheckLabel for a name that must not be empty (OpenRouter:
// name minLength 1).
func checkName(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return Errorf(EINVALID, "%s is required", field)
	}
	return CheckLabel(field, v)
}
