package apitype

// Forward-auth and usage reporting: the answers of GET /api/v1/auth/verify
// and POST /api/v1/usage (docs/integrations.md).

// The response headers of /api/v1/auth/verify. On 200 every X-Keygate-*
// header but the two error headers is set and non-empty; a proxy copies
// them to its upstream after removing any the client sent.
const (
	HeaderUserID         = "X-Keygate-User-Id"
	HeaderKeyHash        = "X-Keygate-Key-Hash"
	HeaderWorkspaceID    = "X-Keygate-Workspace-Id"
	HeaderAppID          = "X-Keygate-App-Id"          // decimal app id, or "none"
	HeaderLimitRemaining = "X-Keygate-Limit-Remaining" // USD with 6 decimals, or "unlimited"
	// On a refusal: the status and the message of the JSON error body, for
	// a proxy (nginx) that turns a status other than 401 and 403 into 500.
	HeaderStatus = "X-Keygate-Status"
	HeaderError  = "X-Keygate-Error"
)

// Verify is what /api/v1/auth/verify answers a 200 with: the values of its
// X-Keygate-* headers. LimitRemaining is in USD, null when no key of the
// chain has a limit.
type Verify struct {
	UserID         string   `json:"user_id"`
	KeyHash        string   `json:"key_hash"`
	WorkspaceID    string   `json:"workspace_id"`
	AppID          *int64   `json:"app_id"`
	LimitRemaining *float64 `json:"limit_remaining"`
}

// VerifyResponse is the body of a 200 from /api/v1/auth/verify.
type VerifyResponse struct {
	Data Verify `json:"data"`
}

// UsageApp is an event's app attribution, as the request's headers named
// it (HTTP-Referer, X-OpenRouter-Title or X-Title, X-OpenRouter-Categories).
type UsageApp struct {
	Referer    string `json:"referer"`
	Title      string `json:"title"`
	Categories string `json:"categories"`
}

// UsageResult is the answer to a usage batch: events charged now, events
// charged before (the same id), and events refused, each with why.
type UsageResult struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Rejected   []RejectedEvent `json:"rejected"`
}

// RejectedEvent is one refused event of a usage batch.
type RejectedEvent struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// UsageResponse is the body of a 200 from POST /api/v1/usage.
type UsageResponse struct {
	Data UsageResult `json:"data"`
}
