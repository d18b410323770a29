package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/server"
)

// report charges events through the usage API's service call: tokens of
// an app on a day, one request each.
func (e *env) reportApp(key string, app keygate.Attribution, day string, tokens int64, cost keygate.Micros) {
	e.t.Helper()
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		e.t.Fatal(err)
	}
	rep, err := e.svc.ReportUsage(context.Background(), []keygate.UsageEvent{{
		ID: fmt.Sprintf("ev-%d", time.Now().UnixNano()), Key: key, Model: "acme/m", PromptTokens: tokens,
		Cost: &cost, App: &app, CreatedAt: d.Add(time.Hour),
	}}, nil)
	if err != nil || rep.Accepted != 1 {
		e.t.Fatalf("ReportUsage = %+v, %v", rep, err)
	}
}

func TestAppRankingsAPI(t *testing.T) {
	e := newEnv(t) // now: 2026-03-04 12:00 UTC
	alpha := keygate.Attribution{Referer: "https://alpha.example", Title: "Alpha", Categories: "cli-agent"}
	beta := keygate.Attribution{Referer: "https://beta.example", Title: "Beta", Categories: "roleplay"}
	e.reportApp(e.userKey, alpha, "2026-03-03", 100, 1)
	e.reportApp(e.userKey, beta, "2026-03-02", 300, 1)
	e.reportApp(e.userKey, keygate.Attribution{Referer: "http://127.0.0.1:8080"}, "2026-03-02", 900, 1)

	if r := e.do("GET", "/api/v1/datasets/app-rankings", nil); r.status != http.StatusUnauthorized {
		t.Errorf("without a key: %d, want 401", r.status)
	}
	r := e.do("GET", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+e.userKey)
	if r.status != http.StatusOK {
		t.Fatalf("rankings: %d %s", r.status, r.body)
	}
	want := `{"data":[{"rank":1,"app_id":2,"app_name":"Beta","total_tokens":"300","total_requests":1},` +
		`{"rank":2,"app_id":1,"app_name":"Alpha","total_tokens":"100","total_requests":1}],` +
		`"meta":{"as_of":"2026-03-04T12:00:00.000Z","version":"v1","start_date":"2026-02-02","end_date":"2026-03-03"}}`
	if string(r.body) != want {
		t.Errorf("body:\n got %s\nwant %s", r.body, want)
	}
	r = e.do("GET", "/api/v1/datasets/app-rankings?category=coding&offset=0&limit=1", nil, "Authorization", "Bearer "+e.userKey)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"app_name":"Alpha"`) || strings.Contains(string(r.body), "Beta") {
		t.Errorf("category=coding: %d %s", r.status, r.body)
	}
	for q, field := range map[string]string{
		"sort=top":                             "sort",
		"category=music":                       "category",
		"subcategory=chess":                    "subcategory",
		"category=coding&subcategory=roleplay": "subcategory",
		"limit=0":                              "limit",
		"limit=101":                            "limit",
		"offset=101":                           "offset",
		"offset=-1":                            "offset",
		"end_date=2024-12-31":                  "end_date",
		"end_date=20260303":                    "end_date",
		"start_date=2026-03-04&end_date=2026-03-03": "start_date",
	} {
		r := e.do("GET", "/api/v1/datasets/app-rankings?"+q, nil, "Authorization", "Bearer "+e.userKey)
		if r.status != http.StatusBadRequest || !strings.HasPrefix(r.errMessage(t), field) {
			t.Errorf("%s: %d %s, want 400 naming %s", q, r.status, r.body, field)
		}
	}
	if r := e.do("POST", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+e.userKey); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", r.status)
	}
}

// TestAppRankingsRateLimit: 30 requests a minute per key, then 429 with
// Retry-After; another key is not held back.
func TestAppRankingsRateLimit(t *testing.T) {
	e := newEnv(t) // the clock stands still: the bucket does not refill
	for i := range server.RankingsPerMinute {
		if r := e.do("GET", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+e.userKey); r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := e.do("GET", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+e.userKey)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.errMessage(t), "30 requests a minute") {
		t.Errorf("request 31: %d %s (Retry-After %q), want 429", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := e.do("GET", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+e.mgmtKey); r.status != http.StatusOK {
		t.Errorf("another key: %d %s", r.status, r.body)
	}
	e.clock.Advance(2 * time.Second) // one request's worth
	if r := e.do("GET", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+e.userKey); r.status != http.StatusOK {
		t.Errorf("2 s later: %d %s", r.status, r.body)
	}
}

// TestAppRankingsDailyLimit: 500 requests a day per account, whichever of
// its keys asks; then 429 with Retry-After for each of them, while another
// account is not held back; one request's worth of the day later, one more.
func TestAppRankingsDailyLimit(t *testing.T) {
	e := newEnv(t) // the clock stands still: the buckets do not refill
	ask := func(key string) *response {
		return e.do("GET", "/api/v1/datasets/app-rankings", nil, "Authorization", "Bearer "+key)
	}
	keys := []string{e.userKey}
	for sent := 0; sent < server.RankingsPerDay; sent++ {
		if sent%server.RankingsPerMinute == 0 && sent > 0 { // a key's minute is spent: another key of the account
			k, _, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: e.user.ID, Name: "rankings"})
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		if r := ask(keys[len(keys)-1]); r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", sent+1, r.status, r.body)
		}
	}
	fresh, _, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: e.user.ID, Name: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	r := ask(fresh)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.errMessage(t), "500 requests a day per account") {
		t.Fatalf("request 501, with a key of the account not used yet: %d %s (Retry-After %q), want 429", r.status, r.body, r.header.Get("Retry-After"))
	}
	_, bobKey := e.newUser("bob@example.com", false)
	if r := ask(bobKey); r.status != http.StatusOK {
		t.Errorf("another account: %d %s", r.status, r.body)
	}
	e.clock.Advance(173 * time.Second) // a day over 500, and a little
	if r := ask(fresh); r.status != http.StatusOK {
		t.Errorf("173 s later: %d %s", r.status, r.body)
	}
	if r := ask(fresh); r.status != http.StatusTooManyRequests {
		t.Errorf("the next at once: %d, want 429", r.status)
	}
}

func TestActivityAPI(t *testing.T) {
	e := newEnv(t)
	app := keygate.Attribution{Referer: "https://alpha.example"}
	e.reportApp(e.userKey, app, "2026-03-03", 100, 250_000)
	e.reportApp(e.userKey, app, "2026-03-03", 20, 1)
	if r := e.do("GET", "/api/v1/activity", nil, "Authorization", "Bearer "+e.userKey); r.status != http.StatusForbidden {
		t.Errorf("with an ordinary key: %d, want 403", r.status)
	}
	r := e.do("GET", "/api/v1/activity", nil, "Authorization", "Bearer "+e.mgmtKey)
	want := `{"data":[{"date":"2026-03-03","model":"acme/m","model_permaslug":"acme/m","endpoint_id":":acme/m",` +
		`"provider_name":"","usage":0.250001,"byok_usage_inference":0,"requests":2,"prompt_tokens":120,` +
		`"completion_tokens":0,"reasoning_tokens":0}]}`
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("activity: %d\n got %s\nwant %s", r.status, r.body, want)
	}
	r = e.do("GET", "/api/v1/activity?group_by=workspace", nil, "Authorization", "Bearer "+e.mgmtKey)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"workspace_id":"`) {
		t.Errorf("group_by=workspace: %d %s", r.status, r.body)
	}
	for q, field := range map[string]string{"date=2026-03-04": "date", "group_by=key": "group_by", "workspace_id=x": "workspace_id"} {
		r := e.do("GET", "/api/v1/activity?"+q, nil, "Authorization", "Bearer "+e.mgmtKey)
		if r.status != http.StatusBadRequest || !strings.HasPrefix(r.errMessage(t), field) {
			t.Errorf("%s: %d %s, want 400 naming %s", q, r.status, r.body, field)
		}
	}
}

// TestCreditsAPI: /credits in the spec's shape, unlimited by default; an
// exhausted balance is a 402 on /auth/verify, and a grant restores it.
func TestCreditsAPI(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/api/v1/credits", nil, "Authorization", "Bearer "+e.userKey); r.status != http.StatusForbidden {
		t.Errorf("with an ordinary key: %d, want 403", r.status)
	}
	credits := func() string {
		t.Helper()
		r := e.do("GET", "/api/v1/credits", nil, "Authorization", "Bearer "+e.mgmtKey)
		if r.status != http.StatusOK {
			t.Fatalf("credits: %d %s", r.status, r.body)
		}
		return string(r.body)
	}
	if got, want := credits(), `{"data":{"total_credits":1000000000,"total_usage":0}}`; got != want {
		t.Errorf("unlimited: %s, want %s", got, want)
	}
	if _, err := e.svc.GrantCredits(context.Background(), e.user.Email, "0.5", "trial"); err != nil {
		t.Fatal(err)
	}
	verify := func() *response {
		return e.do("GET", "/api/v1/auth/verify", nil, "Authorization", "Bearer "+e.userKey)
	}
	if r := verify(); r.status != http.StatusOK {
		t.Fatalf("verify with credits left: %d %s", r.status, r.body)
	}
	e.reportApp(e.userKey, keygate.Attribution{}, "2026-03-04", 10, 500_000)
	if got, want := credits(), `{"data":{"total_credits":0.5,"total_usage":0.5}}`; got != want {
		t.Errorf("spent: %s, want %s", got, want)
	}
	r := verify()
	if r.status != http.StatusPaymentRequired || r.errMessage(t) != keygate.MsgInsufficientCredits {
		t.Errorf("verify with the balance spent: %d %s, want 402", r.status, r.body)
	}
	other, otherKey := e.newUser("bob@example.com", false)
	_ = other
	if r := e.do("GET", "/api/v1/auth/verify", nil, "Authorization", "Bearer "+otherKey); r.status != http.StatusOK {
		t.Errorf("another user's verify: %d %s", r.status, r.body)
	}
	if _, err := e.svc.GrantCredits(context.Background(), e.user.Email, "1", ""); err != nil {
		t.Fatal(err)
	}
	if r := verify(); r.status != http.StatusOK {
		t.Errorf("verify after a grant: %d %s", r.status, r.body)
	}
}
