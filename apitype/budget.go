package apitype

// WorkspaceBudget is a workspace budget object (official SDK
// WorkspaceBudget): limit_usd in USD, reset_interval daily, weekly,
// monthly or null for a lifetime budget, times in RFC 3339.
type WorkspaceBudget struct {
	ID            string  `json:"id"`
	WorkspaceID   string  `json:"workspace_id"`
	LimitUSD      float64 `json:"limit_usd"`
	ResetInterval *string `json:"reset_interval"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
}

// UpsertWorkspaceBudgetRequest is the body of PUT
// /api/v1/workspaces/{workspace_ref}/budgets/{interval}.
type UpsertWorkspaceBudgetRequest struct {
	LimitUSD             *float64 `json:"limit_usd"`
	IncludeBYOKInBudgets *bool    `json:"include_byok_in_budgets,omitempty"`
}

// WorkspaceBudgetResponse is the answer of GET and PUT
// /api/v1/workspaces/{workspace_ref}/budgets/{interval}.
type WorkspaceBudgetResponse struct {
	Data                 WorkspaceBudget `json:"data"`
	IncludeBYOKInBudgets bool            `json:"include_byok_in_budgets"`
}

// ListWorkspaceBudgetsResponse is the answer of GET
// /api/v1/workspaces/{workspace_ref}/budgets.
type ListWorkspaceBudgetsResponse struct {
	Data                 []WorkspaceBudget `json:"data"`
	IncludeBYOKInBudgets bool              `json:"include_byok_in_budgets"`
}
