package apitype

// ErrorResponse is every error body: {"error":{"code":N,"message":"..."}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody carries the HTTP status as Code and a message naming the field.
type ErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// CreateAuthKeysCodeRequest is the body of POST /api/v1/auth/keys/code.
// Only CallbackURL is required.
type CreateAuthKeysCodeRequest struct {
	CallbackURL         string   `json:"callback_url"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"` // "S256" or "plain"
	Limit               *float64 `json:"limit,omitempty"`                 // USD
	ExpiresAt           *string  `json:"expires_at,omitempty"`            // RFC 3339
	KeyLabel            string   `json:"key_label,omitempty"`             // at most 100 code points
	UsageLimitType      string   `json:"usage_limit_type,omitempty"`      // daily, weekly, monthly
	WorkspaceID         string   `json:"workspace_id,omitempty"`          // UUID
}

// CreateAuthKeysCodeResponse is the 200 body of POST /api/v1/auth/keys/code.
type CreateAuthKeysCodeResponse struct {
	Data AuthCode `json:"data"`
}

// AuthCode describes a new authorization code; ID is the code itself.
type AuthCode struct {
	ID        string `json:"id"`
	AppID     int64  `json:"app_id"`
	CreatedAt string `json:"created_at"`
}

// ExchangeAuthCodeRequest is the body of POST /api/v1/auth/keys.
type ExchangeAuthCodeRequest struct {
	Code                string  `json:"code"`
	CodeVerifier        string  `json:"code_verifier,omitempty"`
	CodeChallengeMethod *string `json:"code_challenge_method,omitempty"` // null or absent: the code's own
}

// ExchangeAuthCodeResponse is the 200 body of POST /api/v1/auth/keys.
type ExchangeAuthCodeResponse struct {
	Key    string  `json:"key"`
	UserID *string `json:"user_id"`
}

// CurrentKeyResponse is the 200 body of GET /api/v1/key.
type CurrentKeyResponse struct {
	Data CurrentKey `json:"data"`
}

// CurrentKey describes the key that authenticated the request. Amounts are
// USD. Every field the official SDK requires is present.
type CurrentKey struct {
	Label string `json:"label"`
	KeySpending
	IsFreeTier             bool                   `json:"is_free_tier"`
	IsManagementKey        bool                   `json:"is_management_key"`
	IsProvisioningKey      bool                   `json:"is_provisioning_key"` // deprecated alias of IsManagementKey
	ExpiresAt              *string                `json:"expires_at"`
	CreatorUserID          *string                `json:"creator_user_id"`
	WorkspaceID            *string                `json:"workspace_id"`
	OrganizationID         *string                `json:"organization_id"`
	AllowedDataRegions     []string               `json:"allowed_data_regions"`
	FreeModelDailyRequests FreeModelDailyRequests `json:"free_model_daily_requests"`
	RateLimit              RateLimit              `json:"rate_limit"`
}

// KeySpending is a key's limit and usage, the members that both key
// objects (CurrentKey and Key) report. Amounts are USD; the usage periods
// are the current UTC day, ISO week and UTC month.
type KeySpending struct {
	Limit              *float64 `json:"limit"`           // null: no limit
	LimitRemaining     *float64 `json:"limit_remaining"` // null: no limit
	LimitReset         *string  `json:"limit_reset"`     // daily, weekly, monthly or null
	IncludeBYOKInLimit bool     `json:"include_byok_in_limit"`
	Usage              float64  `json:"usage"`
	UsageDaily         float64  `json:"usage_daily"`
	UsageWeekly        float64  `json:"usage_weekly"`
	UsageMonthly       float64  `json:"usage_monthly"`
	BYOKUsage          float64  `json:"byok_usage"`
	BYOKUsageDaily     float64  `json:"byok_usage_daily"`
	BYOKUsageWeekly    float64  `json:"byok_usage_weekly"`
	BYOKUsageMonthly   float64  `json:"byok_usage_monthly"`
}

// FreeModelDailyRequests reports free-model request allowance per day.
type FreeModelDailyRequests struct {
	Limit     int64 `json:"limit"`
	Remaining int64 `json:"remaining"`
	Used      int64 `json:"used"`
}

// RateLimit is OpenRouter's deprecated legacy rate-limit object.
type RateLimit struct {
	Requests int64  `json:"requests"`
	Interval string `json:"interval"`
	Note     string `json:"note"`
}

// Key is a key object of the management API (/api/v1/keys).
type Key struct {
	Hash     string `json:"hash"`
	Name     string `json:"name"`
	Label    string `json:"label"`
	Disabled bool   `json:"disabled"`
	KeySpending
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     *string `json:"updated_at"`
	ExpiresAt     *string `json:"expires_at"`
	CreatorUserID *string `json:"creator_user_id"`
	ExternalUser  *string `json:"external_user"`
	WorkspaceID   string  `json:"workspace_id"`
}

// KeyResponse wraps one key: GET and PATCH /api/v1/keys/{hash}.
type KeyResponse struct {
	Data Key `json:"data"`
}

// CreateKeyResponse is the 201 body of POST /api/v1/keys; Key is the secret,
// shown once.
type CreateKeyResponse struct {
	Data Key    `json:"data"`
	Key  string `json:"key"`
}

// ListKeysResponse is the body of GET /api/v1/keys.
type ListKeysResponse struct {
	Data []Key `json:"data"`
}

// CreateKeyRequest is the body of POST /api/v1/keys.
type CreateKeyRequest struct {
	Name               string   `json:"name"`
	Limit              *float64 `json:"limit,omitempty"`
	LimitReset         *string  `json:"limit_reset,omitempty"`
	ExpiresAt          *string  `json:"expires_at,omitempty"` // UTC only
	IncludeBYOKInLimit *bool    `json:"include_byok_in_limit,omitempty"`
	WorkspaceID        *string  `json:"workspace_id,omitempty"`
}

// UpdateKeyRequest is the body of PATCH /api/v1/keys/{hash}; absent
// members are left alone. Limit and LimitReset may be null to remove them
// (no cap; a limit on all-time usage); the other members may not be null.
// ExpiresAt is always refused: an expiry cannot be changed after creation.
type UpdateKeyRequest struct {
	Name               Optional[string]  `json:"name,omitzero"`
	Disabled           Optional[bool]    `json:"disabled,omitzero"`
	Limit              Optional[float64] `json:"limit,omitzero"`       // USD
	LimitReset         Optional[string]  `json:"limit_reset,omitzero"` // daily, weekly, monthly
	IncludeBYOKInLimit Optional[bool]    `json:"include_byok_in_limit,omitzero"`
	ExpiresAt          Optional[string]  `json:"expires_at,omitzero"`
}

// DeletedResponse is the body of a successful DELETE: {"deleted":true}.
type DeletedResponse struct {
	Deleted bool `json:"deleted"`
}

// Workspace is a workspace object (/api/v1/workspaces).
type Workspace struct {
	ID                              string   `json:"id"`
	Name                            string   `json:"name"`
	Slug                            string   `json:"slug"`
	Description                     *string  `json:"description"`
	CreatedAt                       string   `json:"created_at"`
	CreatedBy                       *string  `json:"created_by"`
	UpdatedAt                       *string  `json:"updated_at"`
	DefaultGuardrailID              string   `json:"default_guardrail_id"`
	DefaultImageModel               *string  `json:"default_image_model"`
	DefaultProviderSort             *string  `json:"default_provider_sort"`
	DefaultTextModel                *string  `json:"default_text_model"`
	DisabledServerTools             []string `json:"disabled_server_tools"`
	IncludeBYOKInBudgets            bool     `json:"include_byok_in_budgets"`
	IOLoggingAPIKeyIDs              []int64  `json:"io_logging_api_key_ids"`
	IOLoggingSamplingRate           float64  `json:"io_logging_sampling_rate"`
	IsDataDiscountLoggingEnabled    bool     `json:"is_data_discount_logging_enabled"`
	IsObservabilityBroadcastEnabled bool     `json:"is_observability_broadcast_enabled"`
	IsObservabilityIOLoggingEnabled bool     `json:"is_observability_io_logging_enabled"`
}

// WorkspaceResponse wraps one workspace.
type WorkspaceResponse struct {
	Data Workspace `json:"data"`
}

// ListWorkspacesResponse is the body of GET /api/v1/workspaces.
type ListWorkspacesResponse struct {
	Data       []Workspace `json:"data"`
	TotalCount int         `json:"total_count"`
}

// CreateWorkspaceRequest is the body of POST /api/v1/workspaces. Slug
// absent or null is derived from Name. Absent settings take their
// defaults: no default models or provider sort, I/O logging of every key
// (io_logging_api_key_ids null) at sampling rate 1, every switch off, no
// disabled server tools.
type CreateWorkspaceRequest struct {
	Name        string  `json:"name"`
	Slug        *string `json:"slug,omitempty"`
	Description *string `json:"description,omitempty"`
	WorkspaceSettingsRequest
}

// UpdateWorkspaceRequest is the body of PATCH /api/v1/workspaces/{id};
// absent members are left alone. Description null removes it; Name and
// Slug may not be null.
type UpdateWorkspaceRequest struct {
	Name        Optional[string] `json:"name,omitzero"`
	Slug        Optional[string] `json:"slug,omitzero"`
	Description Optional[string] `json:"description,omitzero"`
	WorkspaceSettingsRequest
}

// WorkspaceSettingsRequest holds the settings members of the workspace
// request bodies (OpenRouter CreateWorkspaceRequest and
// UpdateWorkspaceRequest; disabled_server_tools from the official SDK).
// The models, the provider sort and the two lists may be null, clearing
// them (in a POST, the same as absent); the sampling rate and the
// switches may not (OpenRouter types them number and boolean, without
// null).
type WorkspaceSettingsRequest struct {
	DefaultTextModel                Optional[string]   `json:"default_text_model,omitzero"`
	DefaultImageModel               Optional[string]   `json:"default_image_model,omitzero"`
	DefaultProviderSort             Optional[string]   `json:"default_provider_sort,omitzero"` // price, throughput, latency or exacto
	IOLoggingAPIKeyIDs              Optional[[]int64]  `json:"io_logging_api_key_ids,omitzero"`
	IOLoggingSamplingRate           Optional[float64]  `json:"io_logging_sampling_rate,omitzero"` // 0.0001 to 1
	IsDataDiscountLoggingEnabled    Optional[bool]     `json:"is_data_discount_logging_enabled,omitzero"`
	IsObservabilityBroadcastEnabled Optional[bool]     `json:"is_observability_broadcast_enabled,omitzero"`
	IsObservabilityIOLoggingEnabled Optional[bool]     `json:"is_observability_io_logging_enabled,omitzero"`
	DisabledServerTools             Optional[[]string] `json:"disabled_server_tools,omitzero"` // e.g. "openrouter:web_search"
}
