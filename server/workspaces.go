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
// The settings members of the request bodies (default models and provider
// sort, I/O logging, data discount logging, broadcast, disabled server
// tools) are checked, stored and reported back, though keygate routes no
// requests and so acts on none of them. include_byok_in_budgets is not a
// member of either request body: OpenRouter sets it through the workspace
// budget endpoints (server/budgets.go), and the workspace object reports
// what its budgets hold (false without budgets).

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
		b, err := s.workspaceObject(r.Context(), ws)
		if err != nil {
			return err
		}
		data = append(data, b)
	}
	writeJSON(w, http.StatusOK, apitype.ListWorkspacesResponse{Data: data, TotalCount: total})
	return nil
}

// settingsUpdate is the settings change of a request body, POST or
// PATCH. The models, the provider sort and the two lists may be null
// (clearing them; in a POST, the same as absent); the sampling rate and
// the switches may not (OpenRouter types them number and boolean, without
// null).
func settingsUpdate(b *apitype.WorkspaceSettingsRequest) (keygate.WorkspaceSettingsUpdate, error) {
	u := keygate.WorkspaceSettingsUpdate{
		SetDefaultTextModel:    b.DefaultTextModel.Set,
		DefaultTextModel:       b.DefaultTextModel.Value,
		SetDefaultImageModel:   b.DefaultImageModel.Set,
		DefaultImageModel:      b.DefaultImageModel.Value,
		SetDefaultProviderSort: b.DefaultProviderSort.Set,
		DefaultProviderSort:    b.DefaultProviderSort.Value,
		SetIOLoggingAPIKeyIDs:  b.IOLoggingAPIKeyIDs.Set,
		SetDisabledServerTools: b.DisabledServerTools.Set,
	}
	if v := b.IOLoggingAPIKeyIDs.Value; v != nil {
		u.IOLoggingAPIKeyIDs = *v
	}
	if v := b.DisabledServerTools.Value; v != nil {
		u.DisabledServerTools = *v
	}
	var err error
	if u.IOLoggingSamplingRate, err = notNull(b.IOLoggingSamplingRate, "io_logging_sampling_rate"); err != nil {
		return u, err
	}
	if u.IsDataDiscountLoggingEnabled, err = notNull(b.IsDataDiscountLoggingEnabled, "is_data_discount_logging_enabled"); err != nil {
		return u, err
	}
	if u.IsObservabilityBroadcastEnabled, err = notNull(b.IsObservabilityBroadcastEnabled, "is_observability_broadcast_enabled"); err != nil {
		return u, err
	}
	if u.IsObservabilityIOLoggingEnabled, err = notNull(b.IsObservabilityIOLoggingEnabled, "is_observability_io_logging_enabled"); err != nil {
		return u, err
	}
	return u, nil
}

// workspaceUpdate is the change a PATCH body asks for: description null
// removes it, name and slug may not be null, settings as settingsUpdate.
// Errors are EINVALID naming the member.
func workspaceUpdate(body *apitype.UpdateWorkspaceRequest) (keygate.WorkspaceUpdate, error) {
	u := keygate.WorkspaceUpdate{SetDescription: body.Description.Set, Description: body.Description.Value}
	var err error
	if u.WorkspaceSettingsUpdate, err = settingsUpdate(&body.WorkspaceSettingsRequest); err != nil {
		return u, err
	}
	if u.Name, err = notNull(body.Name, "name"); err != nil {
		return u, err
	}
	if u.Slug, err = notNull(body.Slug, "slug"); err != nil {
		return u, err
	}
	return u, nil
}

// createWorkspace serves POST /api/v1/workspaces (OpenRouter
// createWorkspace): 201 with the workspace. name is required (1 to 100 code
// points); slug is derived from the name when absent or null, and must be
// unused among the user's workspaces (409 otherwise); description is at
// most 500 code points. Settings follow keygate.WorkspaceSettingsUpdate's
// rules; a wrong type or value is 400 naming the member.
func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.CreateWorkspaceRequest](w, r)
	if err != nil {
		return err
	}
	settings, err := settingsUpdate(&body.WorkspaceSettingsRequest)
	if err != nil {
		return err
	}
	p := keygate.NewWorkspaceParams{UserID: key.UserID, Name: body.Name, Slug: body.Slug, Description: body.Description, Settings: settings}
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
	b, err := s.workspaceObject(r.Context(), ws)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WorkspaceResponse{Data: b})
	return nil
}

// updateWorkspace serves PATCH /api/v1/workspaces/{id} (OpenRouter
// updateWorkspace): name, slug, description (null removes it) and the
// settings (null clears a nullable one); absent members are left alone.
func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.UpdateWorkspaceRequest](w, r)
	if err != nil {
		return err
	}
	u, err := workspaceUpdate(body)
	if err != nil {
		return err
	}
	ws, err := s.svc.UpdateWorkspace(r.Context(), key.UserID, r.PathValue("id"), u)
	if err != nil {
		return err
	}
	obj, err := s.workspaceObject(r.Context(), ws)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WorkspaceResponse{Data: obj})
	return nil
}

// deleteWorkspace serves DELETE /api/v1/workspaces/{id} (OpenRouter
// deleteWorkspace): {"deleted":true}, the workspace's disabled keys deleted
// with it; 409 while it holds an enabled key (OpenRouter: "Workspaces with
// active API keys cannot be deleted"), 403 for the default workspace.
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

// workspaceBody is the full workspace object the SDK requires, settings as
// stored; null lists mean every key (io_logging_api_key_ids) and no tool
// (disabled_server_tools). include_byok_in_budgets is false here;
// workspaceObject fills in the workspace's setting.
func workspaceBody(ws *keygate.Workspace) apitype.Workspace {
	creator := ws.UserID
	return apitype.Workspace{
		ID:                              ws.ID,
		Name:                            ws.Name,
		Slug:                            ws.Slug,
		Description:                     ws.Description,
		CreatedAt:                       formatTime(ws.CreatedAt),
		CreatedBy:                       &creator,
		UpdatedAt:                       timePtr(ws.UpdatedAt),
		DefaultGuardrailID:              keygate.DefaultGuardrailID(ws.ID),
		DefaultTextModel:                ws.DefaultTextModel,
		DefaultImageModel:               ws.DefaultImageModel,
		DefaultProviderSort:             ws.DefaultProviderSort,
		IOLoggingAPIKeyIDs:              ws.IOLoggingAPIKeyIDs,
		IOLoggingSamplingRate:           ws.IOLoggingSamplingRate,
		IsDataDiscountLoggingEnabled:    ws.IsDataDiscountLoggingEnabled,
		IsObservabilityBroadcastEnabled: ws.IsObservabilityBroadcastEnabled,
		IsObservabilityIOLoggingEnabled: ws.IsObservabilityIOLoggingEnabled,
		DisabledServerTools:             ws.DisabledServerTools,
	}
}
