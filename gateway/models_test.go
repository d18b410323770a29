package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

func TestModels(t *testing.T) {
	e := newEnv(t)
	r := e.get("/api/v1/models", "")
	if r.status != 200 {
		t.Fatalf("GET /api/v1/models = %d %s", r.status, r.body)
	}
	var got apitype.ModelsResponse
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]apitype.ModelPricing{
		"t/cheap": {Prompt: "0.0000005", Completion: "0.0000015"},
		"t/up":    {Prompt: "-1", Completion: "-1"},
		"t/*":     {Prompt: "0.0000001", Completion: "0.0000001"},
		"t/slow":  {Prompt: "0.0000005", Completion: "0.0000015"},
		"t/down":  {Prompt: "0.0000005", Completion: "0.0000015"},
	}
	gotPricing := map[string]apitype.ModelPricing{}
	for _, m := range got.Data {
		gotPricing[m.ID] = m.Pricing
	}
	if d := cmp.Diff(want, gotPricing); d != "" || got.TotalCount != len(want) {
		t.Errorf("models pricing (-want +got):\n%s total_count %d", d, got.TotalCount)
	}

	// Each model links to its details, which answer with its upstream and
	// price; a name a pattern serves too.
	for _, m := range got.Data {
		if want := "/api/v1/models/" + strings.ReplaceAll(m.ID, "*", "%2A") + "/endpoints"; m.Links.Details != want {
			t.Errorf("%s: details link %q, want %q", m.ID, m.Links.Details, want)
		}
		r := e.get(m.Links.Details, "")
		var d apitype.ModelEndpointsResponse
		if err := json.Unmarshal(r.body, &d); r.status != 200 || err != nil || d.Data.ID != m.ID {
			t.Errorf("GET %s = %d %s", m.Links.Details, r.status, r.body)
		}
	}
	for _, tt := range []struct {
		path, id string
		pricing  apitype.ModelPricing
	}{
		{"/api/v1/models/t/cheap/endpoints", "t/cheap", want["t/cheap"]},
		{"/api/v1/models/t/up/endpoints", "t/up", want["t/up"]},
		{"/api/v1/models/t/any-other/endpoints", "t/any-other", want["t/*"]},
	} {
		r := e.get(tt.path, "")
		var d apitype.ModelEndpointsResponse
		if err := json.Unmarshal(r.body, &d); r.status != 200 || err != nil {
			t.Fatalf("GET %s = %d %s", tt.path, r.status, r.body)
		}
		if len(d.Data.Endpoints) != 1 || d.Data.ID != tt.id || d.Data.Endpoints[0].ModelID != tt.id ||
			d.Data.Endpoints[0].Pricing != tt.pricing || d.Data.Endpoints[0].ProviderName != "tu" {
			t.Errorf("GET %s = %s", tt.path, r.body)
		}
	}
	for _, path := range []string{"/api/v1/models/t/cheap", "/api/v1/models/x/nope/endpoints", "/api/v1/models/t/cheap/other"} {
		if r := e.get(path, ""); r.status != 404 || r.errMessage(t) == "" {
			t.Errorf("GET %s = %d %s, want 404", path, r.status, r.body)
		}
	}

	// A new configuration serves the next request (SIGHUP reload).
	cfg, err := gateway.ParseConfig([]byte("upstreams: {u: {base_url: 'http://127.0.0.1:1/v1'}}\nmodels: [{name: only/one, upstream: u, pricing: {prompt: 1, completion: 2}}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.gw.SetConfig(cfg)
	r = e.get("/api/v1/models", "")
	if err := json.Unmarshal(r.body, &got); err != nil || len(got.Data) != 1 || got.Data[0].ID != "only/one" {
		t.Errorf("after SetConfig: %s", r.body)
	}
	if r := e.post("/api/v1/chat/completions", e.key(nil), chat("t/cheap", false)); r.status != 400 {
		t.Errorf("a model gone from the configuration: %d %s", r.status, r.body)
	}
}

// TestGeneration checks GET /api/v1/generation: the caller's own
// generation at once after the answer, 404 for an unknown id or another
// user's, 400 without an id.
func TestGeneration(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{ID: "gen-mine", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(nil)
	if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", true), "X-Title", "Tests"); r.status != 200 {
		t.Fatalf("chat: %d %s", r.status, r.body)
	}
	g, r := e.generation(key, "gen-mine")
	if g == nil {
		t.Fatalf("GET generation = %d %s", r.status, r.body)
	}
	if g.TotalCost != 0.000035 || *g.TokensPrompt != 10 || *g.TokensCompletion != 20 || !*g.Streamed || *g.FinishReason != "stop" || g.Model != "t/cheap" || *g.ProviderName != "tu" {
		t.Errorf("generation = %s", r.body)
	}
	other, err := e.svc.CreateUser(t.Context(), "bob@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	bobKey, _, err := e.svc.CreateKey(t.Context(), keygateParams(other.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, key, id string
		want          int
	}{
		{"other-users", bobKey, "gen-mine", 404},
		{"unknown", key, "gen-nope", 404},
		{"no-id", key, "", 400},
		{"no-key", "", "gen-mine", 401},
	} {
		if _, r := e.generation(tt.key, tt.id); r.status != tt.want {
			t.Errorf("%s: GET generation = %d %s, want %d", tt.name, r.status, r.body, tt.want)
		}
	}
}

// TestAttribution: a generation is attributed to the app of its own
// request's headers, else to none for a key minted without one.
func TestAttribution(t *testing.T) {
	e := newEnv(t)
	key := e.key(nil)
	tests := []struct {
		name    string
		headers []string
		wantApp bool
	}{
		{"headers-name-an-app", []string{"HTTP-Referer", "https://myapp.example/page", "X-OpenRouter-Title", "My App"}, true},
		{"no-headers-key-has-no-app", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "gen-attr-" + tt.name
			e.script("cheap-v2", upstreamtest.Reply{ID: id, Usage: &upstreamtest.Usage{PromptTokens: 1, CompletionTokens: 1}})
			if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false), tt.headers...); r.status != 200 {
				t.Fatalf("chat: %d %s", r.status, r.body)
			}
			g, r := e.generation(key, id)
			if g == nil {
				t.Fatalf("GET generation = %d %s", r.status, r.body)
			}
			if (g.AppID != nil) != tt.wantApp {
				t.Errorf("app_id = %v, want an app: %v", g.AppID, tt.wantApp)
			}
		})
	}
}
