package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// The key management API (OpenRouter /keys and /keys/{hash}). Every route
// needs a management key of the user whose keys it touches: a normal key
// gets 403 MsgManagement, a disabled or expired one 401, and another user's
// hash is 404, exactly like a hash that does not exist.

// management authenticates the request and requires a management key.
func (s *Server) management(r *http.Request) (*keygate.APIKey, error) {
	key, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if err := keygate.RequireManagement(key); err != nil {
		return nil, err
	}
	return key, nil
}

// listKeys serves GET /api/v1/keys (OpenRouter list): one page of up to
// keygate.KeyPageSize keys, newest first. Query: include_disabled (true or
// false), offset (a non-negative integer), workspace_id (a UUID of one of
// the user's workspaces; the default workspace when absent).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := keygate.ListKeysParams{UserID: key.UserID}
	if q.Has("include_disabled") {
		switch q.Get("include_disabled") {
		case "true":
			p.IncludeDisabled = true
		case "false":
		default:
			return keygate.Errorf(keygate.EINVALID, "include_disabled must be true or false")
		}
	}
	if p.Offset, err = queryInt(q, "offset", 0); err != nil {
		return err
	}
	if q.Has("workspace_id") {
		id := q.Get("workspace_id")
		p.WorkspaceID = &id
	}
	infos, err := s.svc.ListKeys(r.Context(), p)
	if err != nil {
		return err
	}
	data := make([]apitype.Key, 0, len(infos))
	for _, info := range infos {
		data = append(data, keyBody(info))
	}
	writeJSON(w, http.StatusOK, apitype.ListKeysResponse{Data: data})
	return nil
}

// queryInt parses the non-negative integer query parameter name, or
// returns def when it is absent. Errors are EINVALID naming it.
func queryInt(q map[string][]string, name string, def int) (int, error) {
	vals, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil || n < 0 || strings.HasPrefix(vals[0], "+") {
		return 0, keygate.Errorf(keygate.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// createKey serves POST /api/v1/keys (OpenRouter createKeys): 201 with the
// key object and the key itself, shown this once. name is required (1 to
// 100 code points); limit (USD, >= 0), limit_reset, expires_at (UTC only,
// in the future), workspace_id and include_byok_in_limit are optional.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.CreateKeyRequest](w, r)
	if err != nil {
		return err
	}
	p := keygate.NewKeyParams{
		UserID:      key.UserID,
		Name:        body.Name,
		LimitUSD:    body.Limit,
		ExpiresAt:   body.ExpiresAt,
		WorkspaceID: body.WorkspaceID,
	}
	if body.LimitReset != nil {
		p.LimitReset = *body.LimitReset
	}
	if body.IncludeBYOKInLimit != nil {
		p.IncludeBYOK = *body.IncludeBYOKInLimit
	}
	secret, k, err := s.svc.CreateKey(r.Context(), p)
	if err != nil {
		return err
	}
	info, err := s.svc.KeyInfo(r.Context(), k)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.CreateKeyResponse{Data: keyBody(info), Key: secret})
	return nil
}

// getKey serves GET /api/v1/keys/{hash} (OpenRouter getKey).
func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	info, err := s.svc.GetKey(r.Context(), key.UserID, r.PathValue("hash"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.KeyResponse{Data: keyBody(info)})
	return nil
}

// notNull returns o's value, or an EINVALID error naming field when o is
// null: members that OpenRouter types without null.
func notNull[T any](o apitype.Optional[T], field string) (*T, error) {
	if o.IsNull() {
		return nil, keygate.Errorf(keygate.EINVALID, "%s must not be null", field)
	}
	return o.Value, nil
}

// updateKey serves PATCH /api/v1/keys/{hash} (OpenRouter updateKeys):
// name, disabled, limit (null removes it), limit_reset (null removes it)
// and include_byok_in_limit. expires_at cannot be changed after creation:
// extending an expiry would outlive what the key was issued for.
func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.UpdateKeyRequest](w, r)
	if err != nil {
		return err
	}
	u, err := keyUpdate(body)
	if err != nil {
		return err
	}
	info, err := s.svc.UpdateKey(r.Context(), key.UserID, r.PathValue("hash"), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.KeyResponse{Data: keyBody(info)})
	return nil
}

// keyUpdate is the change a PATCH body asks for: limit and limit_reset
// null remove them, the other members may not be null, and expires_at
// cannot be changed at all. Errors are EINVALID naming the member.
func keyUpdate(body *apitype.UpdateKeyRequest) (keygate.KeyUpdate, error) {
	if body.ExpiresAt.Set {
		return keygate.KeyUpdate{}, keygate.Errorf(keygate.EINVALID, "expires_at cannot be changed after creation")
	}
	u := keygate.KeyUpdate{
		SetLimit:      body.Limit.Set,
		LimitUSD:      body.Limit.Value,
		SetLimitReset: body.LimitReset.Set,
		LimitReset:    body.LimitReset.Value,
	}
	var err error
	if u.Name, err = notNull(body.Name, "name"); err != nil {
		return u, err
	}
	if u.Disabled, err = notNull(body.Disabled, "disabled"); err != nil {
		return u, err
	}
	if u.IncludeBYOK, err = notNull(body.IncludeBYOKInLimit, "include_byok_in_limit"); err != nil {
		return u, err
	}
	return u, nil
}

// deleteKey serves DELETE /api/v1/keys/{hash} (OpenRouter deleteKeys):
// {"deleted":true}; the key is refused from the next request on, and a
// second DELETE is 404.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteKey(r.Context(), key.UserID, r.PathValue("hash")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DeletedResponse{Deleted: true})
	return nil
}

// keyBody is the management API's key object: every field of the spec and
// of the SDK's schema, amounts in USD.
func keyBody(info *keygate.KeyInfo) apitype.Key {
	k := info.Key
	var creator *string
	if k.CreatorUserID != "" {
		c := k.CreatorUserID
		creator = &c
	}
	return apitype.Key{
		Hash:          k.Hash,
		Name:          k.Name,
		Label:         k.Label,
		Disabled:      k.Disabled,
		KeySpending:   spendingBody(info),
		CreatedAt:     formatTime(k.CreatedAt),
		UpdatedAt:     timePtr(k.UpdatedAt),
		ExpiresAt:     timePtr(k.ExpiresAt),
		CreatorUserID: creator,
		ExternalUser:  k.ExternalUser,
		WorkspaceID:   k.WorkspaceID,
	}
}

// spendingBody is a key's limit and usage in USD, as both key objects
// report them.
func spendingBody(info *keygate.KeyInfo) apitype.KeySpending {
	k, u := info.Key, info.Usage
	return apitype.KeySpending{
		Limit:              usdPtr(k.Limit),
		LimitRemaining:     usdPtr(info.Remaining),
		LimitReset:         resetPtr(k.LimitReset),
		IncludeBYOKInLimit: k.IncludeBYOK,
		Usage:              u.Total.USD(),
		UsageDaily:         u.Daily.USD(),
		UsageWeekly:        u.Weekly.USD(),
		UsageMonthly:       u.Monthly.USD(),
		BYOKUsage:          u.BYOKTotal.USD(),
		BYOKUsageDaily:     u.BYOKDaily.USD(),
		BYOKUsageWeekly:    u.BYOKWeekly.USD(),
		BYOKUsageMonthly:   u.BYOKMonthly.USD(),
	}
}
