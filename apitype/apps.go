package apitype

// AppRankingsResponse is the 200 body of GET /api/v1/datasets/app-rankings
// (OpenRouter AppRankingsResponse).
type AppRankingsResponse struct {
	Data []AppRankingsItem `json:"data"`
	Meta RankingsMeta      `json:"meta"`
}

// AppRankingsItem is one ranked app (OpenRouter AppRankingsItem).
type AppRankingsItem struct {
	Rank          int    `json:"rank"`
	AppID         int64  `json:"app_id"`
	AppName       string `json:"app_name"`
	TotalTokens   string `json:"total_tokens"` // a decimal string: 64-bit values are not truncated
	TotalRequests int64  `json:"total_requests"`
}

// RankingsMeta is the window of a rankings answer (OpenRouter
// RankingsDailyMeta).
type RankingsMeta struct {
	AsOf      string `json:"as_of"`      // RFC 3339 with milliseconds, UTC
	Version   string `json:"version"`    // "v1"
	StartDate string `json:"start_date"` // YYYY-MM-DD
	EndDate   string `json:"end_date"`   // YYYY-MM-DD
}

// ActivityResponse is the 200 body of GET /api/v1/activity (the official
// SDK's ActivityResponse).
type ActivityResponse struct {
	Data []ActivityItem `json:"data"`
}

// ActivityItem is one day, model and provider of a user's activity (the
// SDK's ActivityItem). Amounts are USD.
type ActivityItem struct {
	Date               string  `json:"date"` // YYYY-MM-DD
	Model              string  `json:"model"`
	ModelPermaslug     string  `json:"model_permaslug"`
	EndpointID         string  `json:"endpoint_id"`
	ProviderName       string  `json:"provider_name"`
	Usage              float64 `json:"usage"`
	BYOKUsageInference float64 `json:"byok_usage_inference"`
	Requests           int64   `json:"requests"`
	PromptTokens       int64   `json:"prompt_tokens"`
	CompletionTokens   int64   `json:"completion_tokens"`
	ReasoningTokens    int64   `json:"reasoning_tokens"`
	WorkspaceID        string  `json:"workspace_id,omitempty"` // only with group_by=workspace
}

// CreditsResponse is the 200 body of GET /api/v1/credits (OpenRouter
// getCredits). Amounts are USD.
type CreditsResponse struct {
	Data Credits `json:"data"`
}

// Credits is an account's balance: what was granted and what was spent.
type Credits struct {
	TotalCredits float64 `json:"total_credits"`
	TotalUsage   float64 `json:"total_usage"`
}
