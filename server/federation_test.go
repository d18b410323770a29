package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/idtoken/idptest"
	"github.com/keygate/keygate/server"
)

// fedEnv is an env whose service verifies subject tokens against a real
// OpenID provider on loopback, and a policy trusting it.
type fedEnv struct {
	*env
	idp *idptest.Provider
	pol *keygate.FederationPolicy
}

func newFedEnv(t *testing.T) *fedEnv {
	t.Helper()
	db := openTestStore(t)
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithClock(clk.Now), keygate.WithLogger(log),
		keygate.WithPasswordHasher(testHasher), keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	srv := httptest.NewServer(server.New(svc, server.Config{PublicURL: "http://keygate.test"}, log))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc, store: db, clock: clk, logs: logs}
	e.user, e.userKey = e.newUser("alice@example.com", false)
	e.mgmtKey, _, _ = e.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: e.user.ID, Name: "mgmt", IsManagement: true})
	f := &fedEnv{env: e, idp: idptest.New(t)}
	r := f.do("POST", "/api/v1/federation/policies", map[string]any{
		"issuer": f.idp.URL, "audience": "keygate", "subject": "repo:octo-org/*",
		"claims": map[string]string{"ref": "refs/heads/main"}, "token_ttl": 600, "limit": 2.5, "limit_reset": "monthly",
	}, "Authorization", "Bearer "+e.mgmtKey)
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/federation/policies = %d %s", r.status, r.body)
	}
	id := r.json(t)["data"].(map[string]any)["id"].(string)
	pol, err := svc.FederationPolicy(t.Context(), e.user.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	f.pol = pol
	return f
}

func (f *fedEnv) github(repo, ref string) string {
	return f.idp.Sign(idptest.GitHubActions(f.idp.URL, "keygate", repo, ref, f.clock.Now()))
}

// token posts a form to /api/v1/oauth/token.
func (f *fedEnv) token(form url.Values) *response {
	f.t.Helper()
	return f.do("POST", "/api/v1/oauth/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

func (f *fedEnv) exchangeForm(subject string) url.Values {
	return url.Values{"grant_type": {keygate.GrantTypeTokenExchange}, "subject_token": {subject},
		"subject_token_type": {keygate.TokenTypeJWT}, "federation_policy_id": {f.pol.ID}}
}

// oauthError checks r is an RFC 6749 §5.2 body and returns its error.
func oauthError(t *testing.T, r *response) string {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("body %q is not JSON", r.body)
	}
	code, _ := b["error"].(string)
	desc, _ := b["error_description"].(string)
	if code == "" || desc == "" || len(b) != 2 {
		t.Fatalf("body %s is not {error, error_description}", r.body)
	}
	return code
}

func TestOAuthTokenExchange(t *testing.T) {
	f := newFedEnv(t)
	r := f.token(f.exchangeForm(f.github("octo-org/app", "refs/heads/main")))
	if r.status != 200 {
		t.Fatalf("exchange = %d %s", r.status, r.body)
	}
	body := r.json(t)
	if body["token_type"] != "Bearer" || body["issued_token_type"] != keygate.TokenTypeAccessToken ||
		body["scope"] != "inference" || body["expires_in"] != 300.0 || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("exchange = %s (Cache-Control %q)", r.body, r.header.Get("Cache-Control"))
	}
	tok := body["access_token"].(string)

	// The access token works wherever a key does.
	key := f.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+tok)
	data, _ := key.json(t)["data"].(map[string]any)
	if key.status != 200 || data["limit"] != 2.5 || data["limit_reset"] != "monthly" || data["workspace_id"] != f.pol.WorkspaceID {
		t.Errorf("GET /api/v1/key with the access token = %d %s", key.status, key.body)
	}
	if v := f.do("GET", "/api/v1/auth/verify", nil, "Authorization", "Bearer "+tok); v.status != 200 || v.header.Get("X-Keygate-Key-Hash") != f.pol.KeyHash {
		t.Errorf("GET /api/v1/auth/verify with the access token = %d %s %v", v.status, v.body, v.header)
	}
	// It is not a management key, and mints nothing: a code it made would
	// give a key outliving it.
	if r := f.do("GET", "/api/v1/keys", nil, "Authorization", "Bearer "+tok); r.status != 403 {
		t.Errorf("GET /api/v1/keys with the access token = %d, want 403", r.status)
	}
	r = f.do("POST", "/api/v1/auth/keys/code", map[string]any{"callback_url": cbLocal, "code_challenge": C1, "code_challenge_method": "S256"},
		"Authorization", "Bearer "+tok)
	if r.status != 403 || !strings.Contains(r.errMessage(t), "scope inference") {
		t.Errorf("POST /api/v1/auth/keys/code with the access token = %d %s, want 403", r.status, r.body)
	}
	if r := f.do("POST", "/api/v1/auth/keys/code", map[string]any{"callback_url": cbLocal}, "Authorization", "Bearer "+f.userKey); r.status != 200 {
		t.Errorf("POST /api/v1/auth/keys/code with an ordinary key = %d %s, want 200", r.status, r.body)
	}

	// The JWKS holds the key that signed it.
	jwks := f.do("GET", "/api/v1/oauth/jwks", nil)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks.body, &set); err != nil || jwks.status != 200 || len(set.Keys) != 1 {
		t.Fatalf("GET /api/v1/oauth/jwks = %d %s", jwks.status, jwks.body)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || len(k["x"]) != 43 || len(k["y"]) != 43 {
		t.Errorf("JWK = %v", k)
	}
	if !strings.Contains(headerJSON(t, tok), `"kid":"`+k["kid"]+`"`) {
		t.Errorf("access token header %s does not name kid %s", headerJSON(t, tok), k["kid"])
	}
}

func headerJSON(t *testing.T, jwt string) string {
	h, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOAuthTokenErrors: every refusal is a 400 (never a 5xx) in the shape
// of RFC 6749 §5.2 with the code the spec gives it.
func TestOAuthTokenErrors(t *testing.T) {
	f := newFedEnv(t)
	now := f.clock.Now()
	claims := func(change func(map[string]any)) string {
		c := idptest.GitHubActions(f.idp.URL, "keygate", "octo-org/app", "refs/heads/main", now)
		change(c)
		return f.idp.Sign(c)
	}
	with := func(name, value string) url.Values {
		v := f.exchangeForm(f.github("octo-org/app", "refs/heads/main"))
		if value == "" {
			v.Del(name)
		} else {
			v.Set(name, value)
		}
		return v
	}
	tests := []struct {
		name string
		form url.Values
		code string
	}{
		{"expired", f.exchangeForm(claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), "invalid_grant"},
		{"not-yet-valid", f.exchangeForm(claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), "invalid_grant"},
		{"wrong-audience", f.exchangeForm(claims(func(c map[string]any) { c["aud"] = "other" })), "invalid_grant"},
		{"wrong-issuer", f.exchangeForm(claims(func(c map[string]any) { c["iss"] = "https://token.actions.githubusercontent.com" })), "invalid_grant"},
		{"unknown-kid", f.exchangeForm(f.idp.SignWith(idptest.NewKey(), idptest.GitHubActions(f.idp.URL, "keygate", "octo-org/app", "refs/heads/main", now))), "invalid_grant"},
		{"alg-none", f.exchangeForm(f.idp.Unsigned(idptest.GitHubActions(f.idp.URL, "keygate", "octo-org/app", "refs/heads/main", now))), "invalid_grant"},
		{"hs256-public-key", f.exchangeForm(f.idp.HS256WithPublicKey(idptest.GitHubActions(f.idp.URL, "keygate", "octo-org/app", "refs/heads/main", now))), "invalid_grant"},
		{"condition-not-met", f.exchangeForm(f.github("octo-org/app", "refs/heads/dev")), "invalid_grant"},
		{"no-grant-type", with("grant_type", ""), "invalid_request"},
		{"password-grant", with("grant_type", "password"), "unsupported_grant_type"},
		{"no-subject-token", with("subject_token", ""), "invalid_request"},
		{"id-token-type", with("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), "invalid_request"},
		{"scope", with("scope", "admin"), "invalid_scope"},
		{"no-policy", with("federation_policy_id", ""), "invalid_request"},
		{"unknown-policy", with("federation_policy_id", "00000000-0000-4000-8000-000000000000"), "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.token(tt.form)
			if r.status != 400 {
				t.Fatalf("status = %d %s, want 400", r.status, r.body)
			}
			if got := oauthError(t, r); got != tt.code {
				t.Errorf("error = %s, want %s", got, tt.code)
			}
		})
	}
	t.Run("repeated-field", func(t *testing.T) {
		r := f.do("POST", "/api/v1/oauth/token", "grant_type=a&grant_type=b", "Content-Type", "application/x-www-form-urlencoded")
		if r.status != 400 || oauthError(t, r) != "invalid_request" {
			t.Errorf("repeated field = %d %s", r.status, r.body)
		}
	})
	t.Run("wrong-method", func(t *testing.T) {
		if r := f.do("GET", "/api/v1/oauth/token", nil); r.status != 405 {
			t.Errorf("GET /api/v1/oauth/token = %d, want 405", r.status)
		}
	})
	t.Run("policy-deleted", func(t *testing.T) {
		if r := f.do("DELETE", "/api/v1/federation/policies/"+f.pol.ID, nil, "Authorization", "Bearer "+f.mgmtKey); r.status != 200 {
			t.Fatalf("DELETE = %d %s", r.status, r.body)
		}
		r := f.token(f.exchangeForm(f.github("octo-org/app", "refs/heads/main")))
		if r.status != 400 || oauthError(t, r) != "invalid_target" {
			t.Errorf("exchange under a deleted policy = %d %s, want invalid_target", r.status, r.body)
		}
	})
	if strings.Contains(f.logs.String(), "eyJ") {
		t.Error("a token reached the logs")
	}
}

// TestFederationPoliciesAPI: management keys only, the user's own
// policies only, errors naming the field.
func TestFederationPoliciesAPI(t *testing.T) {
	f := newFedEnv(t)
	mgmt := []string{"Authorization", "Bearer " + f.mgmtKey}
	list := f.do("GET", "/api/v1/federation/policies", nil, mgmt...)
	data, _ := list.json(t)["data"].([]any)
	if list.status != 200 || len(data) != 1 {
		t.Fatalf("GET list = %d %s", list.status, list.body)
	}
	p := data[0].(map[string]any)
	if p["id"] != f.pol.ID || p["issuer"] != f.idp.URL || p["subject"] != "repo:octo-org/*" || p["token_ttl"] != 600.0 ||
		p["limit"] != 2.5 || p["limit_remaining"] != 2.5 || p["usage"] != 0.0 || p["key_hash"] != f.pol.KeyHash {
		t.Errorf("policy = %s", list.body)
	}
	if r := f.do("GET", "/api/v1/federation/policies", nil, "Authorization", "Bearer "+f.userKey); r.status != 403 {
		t.Errorf("GET list with an ordinary key = %d, want 403", r.status)
	}
	if r := f.do("GET", "/api/v1/federation/policies", nil); r.status != 401 {
		t.Errorf("GET list without a key = %d, want 401", r.status)
	}
	_, bobKey := f.newUser("bob@example.com", true)
	if r := f.do("GET", "/api/v1/federation/policies/"+f.pol.ID, nil, "Authorization", "Bearer "+bobKey); r.status != 404 {
		t.Errorf("GET another user's policy = %d, want 404", r.status)
	}
	if r := f.do("DELETE", "/api/v1/federation/policies/"+f.pol.ID, nil, "Authorization", "Bearer "+bobKey); r.status != 404 {
		t.Errorf("DELETE another user's policy = %d, want 404", r.status)
	}
	for _, tt := range []struct {
		name  string
		body  any
		field string
	}{
		{"http-issuer", map[string]any{"issuer": "http://issuer.example", "audience": "a", "subject": "x"}, "issuer"},
		{"no-audience", map[string]any{"issuer": "https://issuer.example", "subject": "x"}, "audience"},
		{"no-condition", map[string]any{"issuer": "https://issuer.example", "audience": "a"}, "subject or claims"},
		{"ttl", map[string]any{"issuer": "https://issuer.example", "audience": "a", "subject": "x", "token_ttl": 3600}, "token_ttl"},
		{"claims-type", map[string]any{"issuer": "https://issuer.example", "audience": "a", "claims": []string{"x"}}, "claims"},
		{"limit", map[string]any{"issuer": "https://issuer.example", "audience": "a", "subject": "x", "limit": -1}, "limit"},
		{"not-json", "issuer=x", "JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", "/api/v1/federation/policies", tt.body, append(mgmt, "Content-Type", "application/json")...)
			if r.status != 400 || !strings.Contains(r.errMessage(t), tt.field) {
				t.Errorf("POST = %d %s, want 400 naming %s", r.status, r.body, tt.field)
			}
		})
	}
	if r := f.do("DELETE", "/api/v1/federation/policies/"+f.pol.ID, nil, mgmt...); r.status != 200 {
		t.Errorf("DELETE = %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/api/v1/federation/policies/"+f.pol.ID, nil, mgmt...); r.status != 404 {
		t.Errorf("GET a deleted policy = %d, want 404", r.status)
	}
}

// TestFederationPoliciesPermissions: every route of the policy API
// refuses what the management API refuses.
func TestFederationPoliciesPermissions(t *testing.T) {
	e := newEnv(t)
	id := "5f0c7a42-1111-4222-8333-944455556666"
	e.checkManagementOnly(t, []route{
		{"list", "GET", "/api/v1/federation/policies", nil},
		{"create", "POST", "/api/v1/federation/policies", map[string]any{"issuer": "https://issuer.example", "audience": "a", "subject": "x"}},
		{"get", "GET", "/api/v1/federation/policies/" + id, nil},
		{"delete", "DELETE", "/api/v1/federation/policies/" + id, nil},
	})
}

// TestFederationReplicas: an access token issued by one replica works on
// another (which reads keygate's signing keys for its unknown kid), and
// stops there within a second of its policy being deleted through a third
// process's API.
func TestFederationReplicas(t *testing.T) {
	rs := newReplicas(t, 2)
	idp := idptest.New(t)
	issuer := keygate.NewService(rs[0].db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.DiscardHandler)),
		keygate.WithPasswordHasher(testHasher), keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	ctx := t.Context()
	u, err := issuer.CreateUser(ctx, "ci@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	mgmt, _, err := issuer.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "mgmt", IsManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := issuer.CreateFederationPolicy(ctx, keygate.NewFederationPolicyParams{UserID: u.ID, Issuer: idp.URL,
		Audience: "keygate", Subject: "repo:octo-org/*"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := issuer.ExchangeToken(ctx, keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange,
		SubjectToken:     idp.Sign(idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", time.Now())),
		SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: pol.ID})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := rs[1].call(t, "GET", "/api/v1/key", tok.AccessToken, nil); status != 200 {
		t.Fatalf("replica-1: GET /api/v1/key with the access token = %d %s", status, body)
	}
	if status, body := rs[0].call(t, "DELETE", "/api/v1/federation/policies/"+pol.ID, mgmt, nil); status != 200 {
		t.Fatalf("replica-0: DELETE the policy = %d %s", status, body)
	}
	deadline := time.Now().Add(time.Second)
	for {
		status, _ := rs[1].call(t, "GET", "/api/v1/key", tok.AccessToken, nil)
		if status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica-1 still answers %d a second after the policy was deleted", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
