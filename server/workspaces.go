package server

import (
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// The workspace API (OpenRouter /workspaces and /workspaces/{id}). Like the
// key management API it needs a management key; {id} is a workspace's id
// or its slug, and another user's workspace is 404.
//
// Only name, slug and description are kept. The other members of
// OpenRouter's request bodies (default models, logging settings) configure
// features keygate does not have; they are ignored, and the workspace
// object reports their defaults.

// listWorkspaces serves GET /api/v1/workspaces (OpenRouter listWorkspaces):
// query offset (>= 0, default 0) and limit (1 to 100, default 50); the
// answer carries total_count.
func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset, err := queryInt(q, "offset", 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(q, "limit", keygate.DefaultWorkspacePage)
	if err != nil {
		return keygate.Errorf(keygate.EINVALID, "limit must be an integer from 1 to %d", keygate.MaxWorkspacePage)
	}
	list, total, err := s.svc.ListWorkspaces(r.Context(), key.UserID, offset, limit)
	if err != nil {
		return err
	}
	data := make([]apitype.Workspace, 0, len(list))
	for _, ws := range list {
		data = append(data, workspaceBody(ws))
	}
	writeJSON(w, http.StatusOK, apitype.ListWorkspacesResponse{Data: data, TotalCount: total})
	return nil
}

// createWorkspace serves POST /api/v1/workspaces (OpenRouter
// createWorkspace): 201 with the workspace. name is required (1 to 100 code
// points); slug is derived from the name when absent or null, and must be
// unused among the user's workspaces (409 otherwise); description is at
// most 500 code points.
func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	b, _, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var body struct {
		Name        string  `json:"name"`
		Slug        *string `json:"slug"`
		Description *string `json:"description"`
	}
	if err := decodeJSON(b, &body); err != nil {
		return err
	}
	p := keygate.NewWorkspaceParams{UserID: key.UserID, Name: body.Name, Description: body.Description}
	if body.Slug != nil {
		if *body.Slug == "" {
			return keygate.CheckSlug("slug", "")
		}
		p.Slug = *body.Slug
	}
	ws, err := s.svc.CreateWorkspace(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.WorkspaceResponse{Data: workspaceBody(ws)})
	return nil
}

// getWorkspace serves GET /api/v1/workspaces/{id} (OpenRouter
// getWorkspace).
func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	ws, err := s.svc.GetWorkspace(r.Context(), key.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WorkspaceResponse{Data: workspaceBody(ws)})
	return nil
}

// updateWorkspace serves PATCH /api/v1/workspaces/{id} (OpenRouter
// updateWorkspace): name, slug, and description (null removes it).
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	b, _, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	var body struct {
		Name        nullable[string] `json:"name"`
		Slug        nullable[string] `json:"slug"`
		Description nullable[string] `json:"description"`
	}
	if err := decodeJSON(b, &body); err != nil {
		return err
	}
	u := keygate.WorkspaceUpdate{SetDescription: body.Description.Set, Description: body.Description.V}
	if u.Name, err = body.Name.value("name"); err != nil {
		return err
	}
	if u.Slug, err = body.Slug.value("slug"); err != nil {
		return err
	}
	ws, err := s.svc.UpdateWorkspace(r.Context(), key.UserID, r.PathValue("id"), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WorkspaceResponse{Data: workspaceBody(ws)})
	return nil
}

// deleteWorkspace serves DELETE /api/v1/workspaces/{id} (OpenRouter
// deleteWorkspace): {"deleted":true}; 409 while the workspace holds keys,
// 403 for the default workspace.
func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteWorkspace(r.Context(), key.UserID, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DeletedResponse{Deleted: true})
	return nil
}

// workspaceBody is the full workspace object the SDK requires. Settings of
// features keygate does not have report OpenRouter's defaults: no default
// models, I/O logging off (sampling rate 1, every key: null), no disabled
// server tools.
func workspaceBody(ws *keygate.Workspace) apitype.Workspace {
	creator := ws.UserID
	return apitype.Workspace{
		ID:                    ws.ID,
		Name:                  ws.Name,
		Slug:                  ws.Slug,
		Description:           ws.Description,
		CreatedAt:             formatTime(ws.CreatedAt),
		CreatedBy:             &creator,
		UpdatedAt:             timePtr(ws.UpdatedAt),
		DefaultGuardrailID:    keygate.DefaultGuardrailID(ws.ID),
		DisabledServerTools:   []string{},
		IOLoggingSamplingRate: 1,
	}
}
