package apitype

// Guardrail is a guardrail object (official SDK Guardrail). Lists are
// null when unset; limit_usd in USD, null for none; reset_interval daily,
// weekly, monthly or null.
type Guardrail struct {
	ID                         string                 `json:"id"`
	WorkspaceID                *string                `json:"workspace_id"`
	Name                       string                 `json:"name"`
	Description                *string                `json:"description"`
	AllowedModels              []string               `json:"allowed_models"`
	IgnoredModels              []string               `json:"ignored_models"`
	AllowedProviders           []string               `json:"allowed_providers"`
	IgnoredProviders           []string               `json:"ignored_providers"`
	AllowedDataRegions         []string               `json:"allowed_data_regions"`
	LimitUSD                   *float64               `json:"limit_usd"`
	ResetInterval              *string                `json:"reset_interval"`
	IncludeBYOKInBudgets       bool                   `json:"include_byok_in_budgets"`
	ContentFilters             []ContentFilter        `json:"content_filters"`
	ContentFilterBuiltins      []ContentFilterBuiltin `json:"content_filter_builtins"`
	EnableFreeModelPublication *bool                  `json:"enable_free_model_publication"`
	EnableFreeModelTraining    *bool                  `json:"enable_free_model_training"`
	EnablePaidModelTraining    *bool                  `json:"enable_paid_model_training"`
	EnforceZDR                 *bool                  `json:"enforce_zdr"`
	EnforceZDRAnthropic        *bool                  `json:"enforce_zdr_anthropic"`
	EnforceZDRGoogle           *bool                  `json:"enforce_zdr_google"`
	EnforceZDROpenAI           *bool                  `json:"enforce_zdr_openai"`
	EnforceZDROther            *bool                  `json:"enforce_zdr_other"`
	EnforceZDRXAI              *bool                  `json:"enforce_zdr_xai"`
	CreatedAt                  string                 `json:"created_at"`
	UpdatedAt                  *string                `json:"updated_at"`
}

// ContentFilter is a member of content_filters (official SDK
// ContentFilterEntry).
type ContentFilter struct {
	Action  string  `json:"action"`
	Label   *string `json:"label,omitempty"`
	Pattern string  `json:"pattern"`
}

// ContentFilterBuiltin is a member of content_filter_builtins (official
// SDK ContentFilterBuiltinEntry).
type ContentFilterBuiltin struct {
	Action    string  `json:"action"`
	Label     *string `json:"label,omitempty"`
	ScanScope *string `json:"scan_scope,omitempty"`
	Slug      string  `json:"slug"`
}

// GuardrailRequest is the body of POST /api/v1/guardrails and PATCH
// /api/v1/guardrails/{id}: every member may be absent, and all but name
// and include_byok_in_budgets may be null.
type GuardrailRequest struct {
	Name                       Optional[string]                 `json:"name"`
	Description                Optional[string]                 `json:"description"`
	WorkspaceID                Optional[string]                 `json:"workspace_id"`
	AllowedModels              Optional[[]string]               `json:"allowed_models"`
	IgnoredModels              Optional[[]string]               `json:"ignored_models"`
	AllowedProviders           Optional[[]string]               `json:"allowed_providers"`
	IgnoredProviders           Optional[[]string]               `json:"ignored_providers"`
	AllowedDataRegions         Optional[[]string]               `json:"allowed_data_regions"`
	LimitUSD                   Optional[float64]                `json:"limit_usd"`
	ResetInterval              Optional[string]                 `json:"reset_interval"`
	IncludeBYOKInBudgets       Optional[bool]                   `json:"include_byok_in_budgets"`
	ContentFilters             Optional[[]ContentFilter]        `json:"content_filters"`
	ContentFilterBuiltins      Optional[[]ContentFilterBuiltin] `json:"content_filter_builtins"`
	EnableFreeModelPublication Optional[bool]                   `json:"enable_free_model_publication"`
	EnableFreeModelTraining    Optional[bool]                   `json:"enable_free_model_training"`
	EnablePaidModelTraining    Optional[bool]                   `json:"enable_paid_model_training"`
	EnforceZDR                 Optional[bool]                   `json:"enforce_zdr"`
	EnforceZDRAnthropic        Optional[bool]                   `json:"enforce_zdr_anthropic"`
	EnforceZDRGoogle           Optional[bool]                   `json:"enforce_zdr_google"`
	EnforceZDROpenAI           Optional[bool]                   `json:"enforce_zdr_openai"`
	EnforceZDROther            Optional[bool]                   `json:"enforce_zdr_other"`
	EnforceZDRXAI              Optional[bool]                   `json:"enforce_zdr_xai"`
}

// GuardrailResponse is the answer of POST, GET and PATCH of one guardrail.
type GuardrailResponse struct {
	Data Guardrail `json:"data"`
}

// ListGuardrailsResponse is the answer of GET /api/v1/guardrails.
type ListGuardrailsResponse struct {
	Data       []Guardrail `json:"data"`
	TotalCount int         `json:"total_count"`
}

// KeyHashesRequest is the body of POST
// /api/v1/guardrails/{id}/assignments/keys and …/keys/remove.
type KeyHashesRequest struct {
	KeyHashes []string `json:"key_hashes"`
}

// AssignedCountResponse is the answer of POST
// /api/v1/guardrails/{id}/assignments/keys.
type AssignedCountResponse struct {
	AssignedCount int `json:"assigned_count"`
}

// UnassignedCountResponse is the answer of POST
// /api/v1/guardrails/{id}/assignments/keys/remove.
type UnassignedCountResponse struct {
	UnassignedCount int `json:"unassigned_count"`
}

// KeyAssignment is a key assignment object (official SDK KeyAssignment).
type KeyAssignment struct {
	ID          string  `json:"id"`
	GuardrailID string  `json:"guardrail_id"`
	KeyHash     string  `json:"key_hash"`
	KeyName     string  `json:"key_name"`
	KeyLabel    string  `json:"key_label"`
	AssignedBy  *string `json:"assigned_by"`
	CreatedAt   string  `json:"created_at"`
}

// ListKeyAssignmentsResponse is the answer of GET
// /api/v1/guardrails/{id}/assignments/keys and
// /api/v1/guardrails/assignments/keys.
type ListKeyAssignmentsResponse struct {
	Data       []KeyAssignment `json:"data"`
	TotalCount int             `json:"total_count"`
}
