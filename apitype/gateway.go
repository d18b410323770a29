package apitype

// ModelsResponse is the 200 body of GET /api/v1/models (OpenRouter spec
// path GET /models; the official SDK's models.list schema).
type ModelsResponse struct {
	Data       []Model    `json:"data"`
	Links      ModelLinks `json:"links"`
	TotalCount int        `json:"total_count"`
}

// ModelLinks is the list's pagination; Next is always null.
type ModelLinks struct {
	Next *string `json:"next"`
}

// Model is one model of the list. Fields keygate does not know are null or
// empty, as the SDK's schema allows.
type Model struct {
	ID                  string            `json:"id"`
	CanonicalSlug       string            `json:"canonical_slug"`
	Name                string            `json:"name"`
	Created             int64             `json:"created"` // Unix seconds
	Description         string            `json:"description"`
	ContextLength       *int64            `json:"context_length"`
	Architecture        ModelArchitecture `json:"architecture"`
	Pricing             ModelPricing      `json:"pricing"`
	TopProvider         ModelTopProvider  `json:"top_provider"`
	PerRequestLimits    *struct{}         `json:"per_request_limits"`
	SupportedParameters []string          `json:"supported_parameters"`
	SupportedVoices     []string          `json:"supported_voices"`
	DefaultParameters   *struct{}         `json:"default_parameters"`
	Links               ModelDetailsLinks `json:"links"`
}

// ModelArchitecture says what a model takes and gives.
type ModelArchitecture struct {
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
	Modality         *string  `json:"modality"`
	InstructType     *string  `json:"instruct_type"`
}

// ModelPricing is a model's price as decimal strings of USD per token;
// "-1" when the upstream's reported cost is charged (price not known in
// advance).
type ModelPricing struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
}

// ModelTopProvider describes the upstream serving a model.
type ModelTopProvider struct {
	ContextLength       *int64 `json:"context_length"`
	MaxCompletionTokens *int64 `json:"max_completion_tokens"`
	IsModerated         bool   `json:"is_moderated"`
}

// ModelDetailsLinks links to a model's details.
type ModelDetailsLinks struct {
	Details string `json:"details"`
}

// ModelEndpointsResponse is the 200 body of GET
// /api/v1/models/{author}/{slug}/endpoints (OpenRouter spec path GET
// /models/{author}/{slug}/endpoints; the official SDK's endpoints.list
// schema): a model and the upstreams that serve it.
type ModelEndpointsResponse struct {
	Data ModelEndpoints `json:"data"`
}

// ModelEndpoints is a model with its endpoints.
type ModelEndpoints struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"`
	Created      int64                 `json:"created"` // Unix seconds
	Description  string                `json:"description"`
	Architecture EndpointsArchitecture `json:"architecture"`
	Endpoints    []ModelEndpoint       `json:"endpoints"`
}

// EndpointsArchitecture is ModelArchitecture with the model's tokenizer
// (null when not known).
type EndpointsArchitecture struct {
	ModelArchitecture
	Tokenizer *string `json:"tokenizer"`
}

// ModelEndpoint is one upstream serving a model. Figures keygate does not
// know (quantization, token caps, uptime, latency) are null; a context
// length that is not known is 0 (the SDK requires a number).
type ModelEndpoint struct {
	Name                    string            `json:"name"` // "<provider> | <model>"
	ModelID                 string            `json:"model_id"`
	ModelName               string            `json:"model_name"`
	ContextLength           int64             `json:"context_length"`
	Pricing                 ModelPricing      `json:"pricing"`
	ProviderName            string            `json:"provider_name"`
	Tag                     string            `json:"tag"`
	Quantization            *string           `json:"quantization"`
	MaxCompletionTokens     *int64            `json:"max_completion_tokens"`
	MaxPromptTokens         *int64            `json:"max_prompt_tokens"`
	SupportedParameters     []string          `json:"supported_parameters"`
	SupportsImplicitCaching bool              `json:"supports_implicit_caching"`
	SupportsToolChoice      ToolChoiceSupport `json:"supports_tool_choice"`
	UptimeLast5m            *float64          `json:"uptime_last_5m"`
	UptimeLast30m           *float64          `json:"uptime_last_30m"`
	UptimeLast1d            *float64          `json:"uptime_last_1d"`
	LatencyLast30m          *PercentileStats  `json:"latency_last_30m"`
	ThroughputLast30m       *PercentileStats  `json:"throughput_last_30m"`
}

// ToolChoiceSupport says which tool_choice values an endpoint takes.
type ToolChoiceSupport struct {
	Auto     bool `json:"auto"`
	Function bool `json:"function"`
	None     bool `json:"none"`
	Required bool `json:"required"`
}

// PercentileStats are percentiles of a measure (milliseconds, or tokens
// per second).
type PercentileStats struct {
	P50 float64 `json:"p50"`
	P75 float64 `json:"p75"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// GenerationResponse is the 200 body of GET /api/v1/generation?id=
// (OpenRouter spec path GET /generation; the SDK's
// generations.getGeneration schema). Money in USD, times in milliseconds.
type GenerationResponse struct {
	Data Generation `json:"data"`
}

// Generation is one metered request. Every member the SDK requires is
// present; those keygate does not track are null.
type Generation struct {
	ID                           string   `json:"id"`
	UpstreamID                   *string  `json:"upstream_id"`
	TotalCost                    float64  `json:"total_cost"` // USD charged
	Usage                        float64  `json:"usage"`      // USD charged
	UpstreamInferenceCost        *float64 `json:"upstream_inference_cost"`
	CacheDiscount                *float64 `json:"cache_discount"`
	CreatedAt                    string   `json:"created_at"` // RFC 3339, UTC
	Model                        string   `json:"model"`
	AppID                        *int64   `json:"app_id"`
	Streamed                     *bool    `json:"streamed"`
	Cancelled                    *bool    `json:"cancelled"`
	ProviderName                 *string  `json:"provider_name"`
	Latency                      *float64 `json:"latency"`         // ms to the first byte from the upstream
	GenerationTime               *float64 `json:"generation_time"` // ms to the end
	ModerationLatency            *float64 `json:"moderation_latency"`
	TokensPrompt                 *int64   `json:"tokens_prompt"`
	TokensCompletion             *int64   `json:"tokens_completion"`
	NativeTokensPrompt           *int64   `json:"native_tokens_prompt"`
	NativeTokensCompletion       *int64   `json:"native_tokens_completion"`
	NativeTokensCompletionImages *int64   `json:"native_tokens_completion_images"`
	NativeTokensReasoning        *int64   `json:"native_tokens_reasoning"`
	NativeTokensCached           *int64   `json:"native_tokens_cached"`
	NumMediaPrompt               *int64   `json:"num_media_prompt"`
	NumInputAudioPrompt          *int64   `json:"num_input_audio_prompt"`
	NumMediaCompletion           *int64   `json:"num_media_completion"`
	NumSearchResults             *int64   `json:"num_search_results"`
	NumFetches                   *int64   `json:"num_fetches"`
	Origin                       string   `json:"origin"`
	IsBYOK                       bool     `json:"is_byok"`
	FinishReason                 *string  `json:"finish_reason"`
	NativeFinishReason           *string  `json:"native_finish_reason"`
	APIType                      *string  `json:"api_type"` // "completions" or "embeddings"
	DataRegion                   string   `json:"data_region"`
	ExternalUser                 *string  `json:"external_user"`
	HTTPReferer                  *string  `json:"http_referer"`
	PresetID                     *string  `json:"preset_id"`
	ProviderResponses            []string `json:"provider_responses"`
	Router                       *string  `json:"router"`
	ServiceTier                  *string  `json:"service_tier"`
	UserAgent                    *string  `json:"user_agent"`
	WebSearchEngine              *string  `json:"web_search_engine"`
	WorkspaceID                  *string  `json:"workspace_id"`
}
