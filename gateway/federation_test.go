package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/gateway/upstreamtest"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/idtoken/idptest"
)

// TestFederatedTokenThroughGateway: a GitHub Actions-like job holding only
// its platform's token exchanges it at /api/v1/oauth/token, calls a model
// with the access token, is charged against its policy's limit to the
// micro-dollar, and is refused at that limit; the charge is the policy's
// user's, workspace's and key's.
func TestFederatedTokenThroughGateway(t *testing.T) {
	e := newEnv(t, keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	idp := idptest.New(t)
	pol, err := e.svc.CreateFederationPolicy(t.Context(), keygate.NewFederationPolicyParams{
		UserID: e.user.ID, Issuer: idp.URL, Audience: "keygate", Subject: "repo:octo-org/*",
		Claims: map[string]string{"ref": "refs/heads/main", "environment": "production"}, LimitUSD: usd(0.000070),
	})
	if err != nil {
		t.Fatal(err)
	}
	subject := idp.Sign(idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", time.Now()))
	form := url.Values{"grant_type": {keygate.GrantTypeTokenExchange}, "subject_token": {subject},
		"subject_token_type": {keygate.TokenTypeJWT}, "federation_policy_id": {pol.ID}, "scope": {"inference"}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok apitype.TokenExchangeResponse
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn < 290 || tok.ExpiresIn > 300 {
		t.Fatalf("POST /api/v1/oauth/token = %d %+v, %v", res.StatusCode, tok, err)
	}

	e.script("cheap-v2", upstreamtest.Reply{ID: "gen-fed-1", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	if r := e.post("/api/v1/chat/completions", tok.AccessToken, chat("t/cheap", false)); r.status != 200 {
		t.Fatalf("chat with the access token = %d %s", r.status, r.body)
	}
	info := e.keyInfo(tok.AccessToken)
	if got := keygate.Micros(info.Usage*1e6 + 0.5); got != 35 {
		t.Errorf("usage through the policy = %d µ$, want 35", got)
	}
	if info.Limit == nil || *info.Limit != 0.00007 || info.LimitRemaining == nil || *info.LimitRemaining != 0.000035 {
		t.Errorf("GET /api/v1/key = limit %v, remaining %v; want the policy's 0.00007 and 0.000035", info.Limit, info.LimitRemaining)
	}
	g, err := e.svc.Generation(t.Context(), e.user.ID, "gen-fed-1")
	if err != nil {
		t.Fatal(err)
	}
	if g.KeyHash != pol.KeyHash || g.WorkspaceID != pol.WorkspaceID || g.Cost != 35 {
		t.Errorf("generation = key %s, workspace %s, cost %d; want the policy's %s, %s, 35", g.KeyHash, g.WorkspaceID, g.Cost, pol.KeyHash, pol.WorkspaceID)
	}

	e.script("cheap-v2", upstreamtest.Reply{ID: "gen-fed-2", Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	if r := e.post("/api/v1/chat/completions", tok.AccessToken, chat("t/cheap", false, "max_tokens", 20)); r.status != 200 {
		t.Fatalf("second chat = %d %s", r.status, r.body)
	}
	r := e.post("/api/v1/chat/completions", tok.AccessToken, chat("t/cheap", false, "max_tokens", 20))
	if r.status != 403 || !strings.Contains(r.errMessage(t), "limit") {
		t.Errorf("chat past the policy's limit = %d %s, want 403 naming the limit", r.status, r.body)
	}
	if got := e.spent(tok.AccessToken); got != 70 {
		t.Errorf("spent = %d µ$, want 70", got)
	}

	if err := e.svc.DeleteFederationPolicy(t.Context(), e.user.ID, pol.ID); err != nil {
		t.Fatal(err)
	}
	if r := e.post("/api/v1/chat/completions", tok.AccessToken, chat("t/cheap", false)); r.status != 401 {
		t.Errorf("chat after the policy was deleted = %d %s, want 401", r.status, r.body)
	}
}
