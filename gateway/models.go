package gateway

import (
	"net/http"
	"net/url"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// models serves GET /api/v1/models (OpenRouter spec path GET /models): the
// configured models, patterns listed as configured, in the shape of the
// official SDK's models.list. Prices are decimal strings of USD per token;
// "-1" for a model charged at the upstream's reported cost. Like
// OpenRouter's, the list needs no key.
func (g *Gateway) models(w http.ResponseWriter, r *http.Request) error {
	rt := g.routes.Load()
	created := g.loadedAt.Load()
	resp := apitype.ModelsResponse{Data: make([]apitype.Model, 0, len(rt.cfg.Models))}
	text := "text->text"
	for _, m := range rt.cfg.Models {
		pricing := apitype.ModelPricing{Prompt: m.Pricing.Prompt.PerTokenUSD(), Completion: m.Pricing.Completion.PerTokenUSD()}
		if m.Pricing.Upstream {
			pricing = apitype.ModelPricing{Prompt: "-1", Completion: "-1"}
		}
		resp.Data = append(resp.Data, apitype.Model{
			ID:                  m.Name,
			CanonicalSlug:       m.Name,
			Name:                m.Name,
			Created:             created,
			Architecture:        apitype.ModelArchitecture{InputModalities: []string{"text"}, OutputModalities: []string{"text"}, Modality: &text},
			Pricing:             pricing,
			SupportedParameters: []string{},
			Links:               apitype.ModelDetailsLinks{Details: "/api/v1/models/" + url.PathEscape(m.Name) + "/endpoints"},
		})
	}
	resp.TotalCount = len(resp.Data)
	writeJSON(w, resp)
	return nil
}

// generationJSON is g as GET /api/v1/generation reports it.
func generationJSON(g *keygate.Generation) apitype.Generation {
	ms := func(d time.Duration) *float64 { v := float64(d.Microseconds()) / 1000; return &v }
	apiType := "completions"
	if g.Endpoint == "embeddings" {
		apiType = "embeddings"
	}
	out := apitype.Generation{
		ID:                     g.ID,
		TotalCost:              g.Cost.USD(),
		Usage:                  g.Cost.USD(),
		CreatedAt:              g.CreatedAt.UTC().Format(time.RFC3339),
		Model:                  g.Model,
		AppID:                  g.AppID,
		Streamed:               &g.Streamed,
		Cancelled:              &g.Cancelled,
		ProviderName:           &g.Provider,
		Latency:                ms(g.Latency),
		GenerationTime:         ms(g.GenerationTime),
		TokensPrompt:           &g.PromptTokens,
		TokensCompletion:       &g.CompletionTokens,
		NativeTokensPrompt:     &g.PromptTokens,
		NativeTokensCompletion: &g.CompletionTokens,
		NativeTokensReasoning:  &g.ReasoningTokens,
		NativeTokensCached:     &g.CachedTokens,
		IsBYOK:                 g.BYOK,
		APIType:                &apiType,
		DataRegion:             "global",
	}
	if g.FinishReason != "" {
		out.FinishReason, out.NativeFinishReason = &g.FinishReason, &g.FinishReason
	}
	if g.BYOK {
		v := g.UpstreamInferenceCost.USD()
		out.UpstreamInferenceCost = &v
	}
	if g.WorkspaceID != "" {
		out.WorkspaceID = &g.WorkspaceID
	}
	return out
}
