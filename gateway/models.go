package gateway

import (
	"net/http"
	"net/url"
	"strings"
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
	for _, m := range rt.cfg.Models {
		resp.Data = append(resp.Data, apitype.Model{
			ID:                  m.Name,
			CanonicalSlug:       m.Name,
			Name:                m.Name,
			Created:             created,
			Architecture:        textArchitecture(),
			Pricing:             m.listPricing(),
			SupportedParameters: []string{},
			Links:               apitype.ModelDetailsLinks{Details: endpointsPath(m.Name)},
		})
	}
	resp.TotalCount = len(resp.Data)
	writeJSON(w, resp)
	return nil
}

// modelEndpoints serves GET /api/v1/models/{author}/{slug}/endpoints
// (OpenRouter spec path GET /models/{author}/{slug}/endpoints; the SDK's
// endpoints.list), the details each model of GET /api/v1/models links to:
// the model, and its upstream as its one endpoint, named by the
// upstream's name in the configuration. A name a pattern serves is
// answered with that pattern's upstream and price. tool_choice is
// forwarded as sent, so every value is reported as supported: the upstream
// decides. Like the list, it needs no key. 404 for a model no entry
// serves.
func (g *Gateway) modelEndpoints(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(r.PathValue("path"), "/endpoints")
	m := g.routes.Load().model(name)
	if !ok || m == nil {
		return keygate.Errorf(keygate.ENOTFOUND, "Model %.200q not found", name)
	}
	yes := apitype.ToolChoiceSupport{Auto: true, Function: true, None: true, Required: true}
	writeJSON(w, apitype.ModelEndpointsResponse{Data: apitype.ModelEndpoints{
		ID:           name,
		Name:         name,
		Created:      g.loadedAt.Load(),
		Architecture: apitype.EndpointsArchitecture{ModelArchitecture: textArchitecture()},
		Endpoints: []apitype.ModelEndpoint{{
			Name:                m.Upstream + " | " + name,
			ModelID:             name,
			ModelName:           name,
			Pricing:             m.listPricing(),
			ProviderName:        m.Upstream,
			Tag:                 m.Upstream,
			SupportedParameters: []string{},
			SupportsToolChoice:  yes,
		}},
	}})
	return nil
}

// textArchitecture is what keygate says of every model it serves: text in,
// text out.
func textArchitecture() apitype.ModelArchitecture {
	text := "text->text"
	return apitype.ModelArchitecture{InputModalities: []string{"text"}, OutputModalities: []string{"text"}, Modality: &text}
}

// listPricing is m's price as the model list and its details report it:
// decimal strings of USD per token, "-1" for a model charged at the
// upstream's reported cost.
func (m *Model) listPricing() apitype.ModelPricing {
	if m.Pricing.Upstream {
		return apitype.ModelPricing{Prompt: "-1", Completion: "-1"}
	}
	return apitype.ModelPricing{Prompt: m.Pricing.Prompt.PerTokenUSD(), Completion: m.Pricing.Completion.PerTokenUSD()}
}

// endpointsPath is the path of the details of the model called name:
// /api/v1/models/<author>/<slug>/endpoints, each segment of the name
// escaped on its own.
func endpointsPath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/api/v1/models/" + strings.Join(segs, "/") + "/endpoints"
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
	if g.UpstreamID != "" {
		out.UpstreamID = &g.UpstreamID
	}
	return out
}
