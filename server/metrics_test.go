package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func (f *fwd) scrape() map[string]*dto.MetricFamily {
	f.t.Helper()
	r := f.do("GET", "/metrics", "")
	if r.status != 200 {
		f.t.Fatalf("GET /metrics = %d", r.status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(r.body)))
	if err != nil {
		f.t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// sample returns the value of the series of name with labels (name=value
// pairs): a counter's or gauge's value, a histogram's sample count; 0 when
// there is no such series.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	fam := fams[name]
	if fam == nil {
		return 0
	}
next:
	for _, m := range fam.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetrics: /metrics parses, its counters move with the traffic the
// test sends, and no label value anywhere is a secret, a key hash or an
// email.
func TestMetrics(t *testing.T) {
	f := newFwd(t)
	limited := f.newKey(ptr(0.000001))
	before := f.scrape()

	// Verify: a pass and a refusal at the limit (after 1 µ$ reported).
	f.do("GET", "/api/v1/auth/verify", "", "Authorization", "Bearer "+f.userKey)
	usageResult(t, f.report(map[string]any{"id": "lim", "key": limited, "model": "m", "cost": 0.000001}))
	f.do("GET", "/api/v1/auth/verify", "", "Authorization", "Bearer "+limited)
	// Reported usage of an app, priced from the models file: 1000 prompt
	// tokens at 0.50 and 100 completion tokens at 1.50 per million: 650 µ$.
	usageResult(t, f.report(map[string]any{
		"id": "app-1", "key": f.userKey, "model": "t/priced", "prompt_tokens": 1000, "completion_tokens": 100,
		"app": map[string]any{"referer": "https://app.example.com/", "title": "Example"},
	}))
	// The gateway to an upstream that is not listening.
	f.do("POST", "/api/v1/chat/completions", `{"model":"t/priced","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+f.userKey)
	// A code issued, exchanged, and replayed.
	r := f.do("POST", "/api/v1/auth/keys/code", `{"callback_url":"http://localhost:3000/cb","code_challenge":"`+C1+`","code_challenge_method":"S256"}`,
		"Authorization", "Bearer "+f.userKey, "Content-Type", "application/json")
	var code struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &code); err != nil || code.Data.ID == "" {
		t.Fatalf("create code: %d %s", r.status, r.body)
	}
	exchange := `{"code":"` + code.Data.ID + `","code_verifier":"` + V1 + `","code_challenge_method":"S256"}`
	minted := f.do("POST", "/api/v1/auth/keys", exchange, "Content-Type", "application/json")
	f.do("POST", "/api/v1/auth/keys", exchange, "Content-Type", "application/json")
	after := f.scrape()

	k, err := f.store.Key(t.Context(), keygate.HashSecret(f.userKey))
	if err != nil {
		t.Fatal(err)
	}
	app, err := f.svc.AttributeApp(t.Context(), k, keygate.Attribution{Referer: "https://app.example.com/", Title: "Example"})
	if err != nil || app == nil {
		t.Fatalf("AttributeApp = %v, %v", app, err)
	}
	appID := fmt.Sprint(*app)
	tests := []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"keygate_http_requests_total", []string{"route", "/api/v1/auth/verify", "method", "GET", "code", "2xx"}, 1},
		{"keygate_http_requests_total", []string{"route", "/api/v1/auth/verify", "method", "GET", "code", "4xx"}, 1},
		{"keygate_http_requests_total", []string{"route", "POST /api/v1/usage", "method", "POST", "code", "2xx"}, 2},
		{"keygate_http_request_duration_seconds", []string{"route", "/api/v1/auth/verify", "code", "2xx"}, 1},
		{"keygate_limit_rejections_total", []string{"window", "total"}, 1},
		{"keygate_usage_batches_total", []string{"result", "ok"}, 2},
		{"keygate_usage_write_duration_seconds", nil, 2},
		{"keygate_tokens_total", []string{"model", "t/priced", "kind", "prompt"}, 1000},
		{"keygate_tokens_total", []string{"model", "t/priced", "kind", "completion"}, 100},
		{"keygate_cost_microdollars_total", []string{"model", "t/priced"}, 650},
		{"keygate_cost_microdollars_total", []string{"model", "m"}, 1},
		{"keygate_app_cost_microdollars_total", []string{"app_id", appID}, 650},
		{"keygate_gateway_upstream_errors_total", []string{"upstream", "up", "kind", "unreachable"}, 1},
		{"keygate_auth_codes_total", []string{"event", "issued"}, 1},
		{"keygate_auth_codes_total", []string{"event", "exchanged"}, 1},
		{"keygate_auth_code_replays_total", nil, 1},
	}
	for _, tt := range tests {
		if d := sample(after, tt.name, tt.labels...) - sample(before, tt.name, tt.labels...); d != tt.delta {
			t.Errorf("%s%v grew by %v, want %v", tt.name, tt.labels, d, tt.delta)
		}
	}
	if sample(after, "keygate_key_cache_lookups_total", "result", "hit") <= sample(before, "keygate_key_cache_lookups_total", "result", "hit") {
		t.Error("keygate_key_cache_lookups_total{result=hit} did not grow")
	}
	if sample(after, "keygate_key_cache_entries") < 1 {
		t.Error("keygate_key_cache_entries < 1 with keys in use")
	}

	// No label value is a secret, a key's hash or an email.
	var mintedKey struct {
		Key string `json:"key"`
	}
	json.Unmarshal(minted.body, &mintedKey)
	secrets := []string{f.userKey, f.mgmtKey, limited, f.token, code.Data.ID, mintedKey.Key}
	for _, s := range secrets[:3] {
		secrets = append(secrets, keygate.HashSecret(s))
	}
	for name, fam := range after {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				if strings.Contains(v, "@") || strings.Contains(v, f.user.Email) {
					t.Errorf("%s{%s=%q} carries an email", name, l.GetName(), v)
				}
				for _, s := range secrets {
					if s != "" && strings.Contains(v, s) {
						t.Errorf("%s{%s=%q} carries a secret or key hash", name, l.GetName(), v)
					}
				}
			}
		}
	}
}

// TestMetricsKeepStreaming: with metrics on, a streamed gateway answer
// still reaches the client chunk by chunk (the first before the upstream
// goes on), and is counted under its route.
func TestMetricsKeepStreaming(t *testing.T) {
	hold := make(chan struct{})
	up := upstreamtest.New(func(*upstreamtest.Request) upstreamtest.Reply {
		return upstreamtest.Reply{Content: []string{"Hel", "lo"}, Hold: hold, Usage: &upstreamtest.Usage{PromptTokens: 3, CompletionTokens: 2}}
	})
	defer up.Close()
	f := newFwdModels(t, "upstreams:\n  up: {base_url: \""+up.URL+"/v1\"}\nmodels:\n  - {name: t/priced, upstream: up, pricing: {prompt: 0.50, completion: 1.50}}\n")
	before := f.scrape()
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/chat/completions", strings.NewReader(`{"model":"t/priced","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+f.userKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "data: {") {
	}
	if !strings.Contains(lines.Text(), "Hel") {
		t.Fatalf("first event %q, want the first chunk while the upstream holds", lines.Text())
	}
	close(hold)
	for lines.Scan() {
	}
	after := f.scrape()
	route := []string{"route", "POST /api/v1/chat/completions", "method", "POST", "code", "2xx"}
	if d := sample(after, "keygate_http_requests_total", route...) - sample(before, "keygate_http_requests_total", route...); d != 1 {
		t.Errorf("keygate_http_requests_total%v grew by %v, want 1", route, d)
	}
	if d := sample(after, "keygate_gateway_upstream_latency_seconds", "upstream", "up") - sample(before, "keygate_gateway_upstream_latency_seconds", "upstream", "up"); d != 1 {
		t.Errorf("keygate_gateway_upstream_latency_seconds{upstream=up} has %v more samples, want 1", d)
	}
}
