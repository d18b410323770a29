package server

import (
	"context"
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// Workspace budgets (OpenRouter /workspaces/{workspace_ref}/budgets and
// /budgets/{interval}; official SDK workspaces.listBudgets, getBudget,
// setBudget, deleteBudget). They need a management key; {workspace_ref}
// is a workspace's id or slug, and another user's workspace is 404.
// {interval} is daily, weekly, monthly or lifetime.

// budgetRoutes registers the budget routes.
func (s *Server) budgetRoutes() {
	s.apiMethods("/api/v1/workspaces/{workspace_ref}/budgets", map[string]apiHandler{"GET": s.listBudgets})
	s.apiMethods("/api/v1/workspaces/{workspace_ref}/budgets/{interval}",
		map[string]apiHandler{"GET": s.getBudget, "PUT": s.setBudget, "DELETE": s.deleteBudget})
}

// listBudgets serves GET /api/v1/workspaces/{workspace_ref}/budgets.
func (s *Server) listBudgets(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	list, byok, err := s.svc.WorkspaceBudgets(r.Context(), key.UserID, r.PathValue("workspace_ref"))
	if err != nil {
		return err
	}
	data := make([]apitype.WorkspaceBudget, len(list))
	for i, b := range list {
		data[i] = budgetBody(b)
	}
	writeJSON(w, http.StatusOK, apitype.ListWorkspaceBudgetsResponse{Data: data, IncludeBYOKInBudgets: byok})
	return nil
}

// getBudget serves GET /api/v1/workspaces/{workspace_ref}/budgets/{interval}:
// 404 "Budget not found" when the workspace has none for the interval.
func (s *Server) getBudget(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	b, err := s.svc.WorkspaceBudget(r.Context(), key.UserID, r.PathValue("workspace_ref"), r.PathValue("interval"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WorkspaceBudgetResponse{Data: budgetBody(b), IncludeBYOKInBudgets: b.IncludeBYOK})
	return nil
}

// setBudget serves PUT /api/v1/workspaces/{workspace_ref}/budgets/{interval}
// (OpenRouter upsertWorkspaceBudget): 200 with the budget, created or
// updated. limit_usd is required (a number of USD >= 0);
// include_byok_in_budgets, when given, applies to every budget of the
// workspace.
func (s *Server) setBudget(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.UpsertWorkspaceBudgetRequest](w, r)
	if err != nil {
		return err
	}
	if body.LimitUSD == nil {
		return keygate.Errorf(keygate.EINVALID, "limit_usd is required")
	}
	b, err := s.svc.SetWorkspaceBudget(r.Context(), key.UserID, r.PathValue("workspace_ref"), r.PathValue("interval"),
		*body.LimitUSD, body.IncludeBYOKInBudgets)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.WorkspaceBudgetResponse{Data: budgetBody(b), IncludeBYOKInBudgets: b.IncludeBYOK})
	return nil
}

// deleteBudget serves DELETE
// /api/v1/workspaces/{workspace_ref}/budgets/{interval}: {"deleted":true}.
func (s *Server) deleteBudget(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteWorkspaceBudget(r.Context(), key.UserID, r.PathValue("workspace_ref"), r.PathValue("interval")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DeletedResponse{Deleted: true})
	return nil
}

// workspaceObject is workspaceBody with the workspace's
// include_byok_in_budgets, which its budgets hold.
func (s *Server) workspaceObject(ctx context.Context, ws *keygate.Workspace) (apitype.Workspace, error) {
	b := workspaceBody(ws)
	var err error
	b.IncludeBYOKInBudgets, err = s.svc.BudgetsIncludeBYOK(ctx, ws.ID)
	return b, err
}

// budgetBody is the SDK's WorkspaceBudget object of b.
func budgetBody(b *keygate.WorkspaceBudget) apitype.WorkspaceBudget {
	var reset *string
	if b.Interval != keygate.ResetNone {
		v := string(b.Interval)
		reset = &v
	}
	return apitype.WorkspaceBudget{
		ID:            b.ID,
		WorkspaceID:   b.WorkspaceID,
		LimitUSD:      b.Limit.USD(),
		ResetInterval: reset,
		CreatedAt:     formatTime(b.CreatedAt),
		UpdatedAt:     formatTime(b.UpdatedAt),
	}
}
