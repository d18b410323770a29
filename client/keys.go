package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keygate/keygate/apitype"
)

// Keys is the management API's keys (/keys, OpenRouter apiKeys). Every
// call needs a management key: an ordinary key gets ErrForbidden. Keys are
// named by their hash, the hex SHA-256 of the secret; another user's hash
// is ErrNotFound.
type Keys struct{ c *Client }

// ListKeysParams filters Keys.List. The zero value lists the enabled keys
// of the default workspace.
type ListKeysParams struct {
	IncludeDisabled bool
	Offset          int    // keys to skip; pages are 100 keys
	WorkspaceID     string // a workspace of the key's user
}

// List returns a page of the user's keys (GET /keys). p may be nil.
func (k Keys) List(ctx context.Context, p *ListKeysParams) ([]apitype.Key, error) {
	q := url.Values{}
	if p != nil {
		if p.IncludeDisabled {
			q.Set("include_disabled", "true")
		}
		if p.Offset > 0 {
			q.Set("offset", strconv.Itoa(p.Offset))
		}
		if p.WorkspaceID != "" {
			q.Set("workspace_id", p.WorkspaceID)
		}
	}
	var res apitype.ListKeysResponse
	if err := k.c.call(ctx, http.MethodGet, "/keys", q, nil, &res); err != nil {
		return nil, err
	}
	return res.Data, nil
}

// Create makes a key (POST /keys). The response's Key is the secret, shown
// only this once. Never retried. Errors: ErrBadRequest naming the field.
func (k Keys) Create(ctx context.Context, req *apitype.CreateKeyRequest) (*apitype.CreateKeyResponse, error) {
	var res apitype.CreateKeyResponse
	if err := k.c.call(ctx, http.MethodPost, "/keys", nil, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Get returns the key with hash (GET /keys/{hash}).
func (k Keys) Get(ctx context.Context, hash string) (*apitype.Key, error) {
	var res apitype.KeyResponse
	if err := k.c.call(ctx, http.MethodGet, "/keys/"+url.PathEscape(hash), nil, nil, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// Update changes the fields set in req (PATCH /keys/{hash}) and returns the
// key as it now is.
func (k Keys) Update(ctx context.Context, hash string, req *apitype.UpdateKeyRequest) (*apitype.Key, error) {
	var res apitype.KeyResponse
	if err := k.c.call(ctx, http.MethodPatch, "/keys/"+url.PathEscape(hash), nil, req, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// Delete deletes the key with hash (DELETE /keys/{hash}); it stops working
// at once. Deleting it again is ErrNotFound, so the call is not retried.
func (k Keys) Delete(ctx context.Context, hash string) error {
	return k.c.call(ctx, http.MethodDelete, "/keys/"+url.PathEscape(hash), nil, nil, &apitype.DeletedResponse{})
}

// Workspaces is the management API's workspaces (/workspaces, OpenRouter
// workspaces). Every call needs a management key. A workspace is named by
// its ID (a UUID) or its slug.
type Workspaces struct{ c *Client }

// ListWorkspacesParams pages Workspaces.List; zero values take the server's
// defaults (offset 0, limit 50, at most 100).
type ListWorkspacesParams struct {
	Offset int
	Limit  int
}

// List returns a page of the user's workspaces and their total count (GET
// /workspaces). p may be nil.
func (w Workspaces) List(ctx context.Context, p *ListWorkspacesParams) (*apitype.ListWorkspacesResponse, error) {
	q := url.Values{}
	if p != nil {
		if p.Offset > 0 {
			q.Set("offset", strconv.Itoa(p.Offset))
		}
		if p.Limit > 0 {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
	}
	var res apitype.ListWorkspacesResponse
	if err := w.c.call(ctx, http.MethodGet, "/workspaces", q, nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Create makes a workspace (POST /workspaces). Never retried. Errors:
// ErrBadRequest naming the field, ErrConflict for a slug in use.
func (w Workspaces) Create(ctx context.Context, req *apitype.CreateWorkspaceRequest) (*apitype.Workspace, error) {
	var res apitype.WorkspaceResponse
	if err := w.c.call(ctx, http.MethodPost, "/workspaces", nil, req, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// Get returns the workspace with id, a UUID or a slug (GET
// /workspaces/{id}).
func (w Workspaces) Get(ctx context.Context, id string) (*apitype.Workspace, error) {
	var res apitype.WorkspaceResponse
	if err := w.c.call(ctx, http.MethodGet, "/workspaces/"+url.PathEscape(id), nil, nil, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// Update changes the fields set in req (PATCH /workspaces/{id}) and returns
// the workspace as it now is.
func (w Workspaces) Update(ctx context.Context, id string, req *apitype.UpdateWorkspaceRequest) (*apitype.Workspace, error) {
	var res apitype.WorkspaceResponse
	if err := w.c.call(ctx, http.MethodPatch, "/workspaces/"+url.PathEscape(id), nil, req, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// Delete deletes the workspace with id (DELETE /workspaces/{id}) and its
// disabled keys. Errors: ErrConflict while it still holds an enabled key.
func (w Workspaces) Delete(ctx context.Context, id string) error {
	return w.c.call(ctx, http.MethodDelete, "/workspaces/"+url.PathEscape(id), nil, nil, &apitype.DeletedResponse{})
}
