package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOIDCConfig: the repeated flags go together by position, each
// problem is reported by flag name, and the secrets come from the named
// variables.
func TestOIDCConfig(t *testing.T) {
	env := map[string]string{"CORP_SECRET": "s1", "GITLAB_SECRET": "s2"}
	getenv := func(k string) string { return env[k] }
	ok := OIDCConfig{
		Issuers: []string{"https://login.corp.example", "https://gitlab.example"}, ClientIDs: []string{"kg", "kg2"},
		SecretEnvs: []string{"CORP_SECRET", "GITLAB_SECRET"}, Names: []string{"Corp"},
		CreateAccounts: []string{"https://gitlab.example"}, LinkByEmail: []string{"https://login.corp.example"}, NoPasswordLogin: true,
	}
	ps, err := ok.providers(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "Corp" || ps[1].Name != "gitlab.example" || ps[0].ClientSecret != "s1" ||
		!ps[0].Accounts.LinkByEmail || ps[0].Accounts.CreateAccounts || !ps[1].Accounts.CreateAccounts || ps[1].Accounts.LinkByEmail {
		t.Errorf("providers = %+v", ps)
	}
	for _, tt := range []struct {
		name   string
		change func(c *OIDCConfig)
		want   string
	}{
		{"count", func(c *OIDCConfig) { c.ClientIDs = c.ClientIDs[:1] }, "--oidc-client-id (1)"},
		{"no-password-alone", func(c *OIDCConfig) { *c = OIDCConfig{NoPasswordLogin: true} }, "--no-password-login"},
		{"unknown-issuer-rule", func(c *OIDCConfig) { c.CreateAccounts = []string{"https://other.example"} }, "--oidc-create-accounts"},
		{"unset-secret", func(c *OIDCConfig) { c.SecretEnvs[1] = "MISSING" }, "MISSING"},
		{"bad-issuer", func(c *OIDCConfig) { c.Issuers[0], c.LinkByEmail = "login.corp.example", nil }, "--oidc-issuer"},
	} {
		c := ok
		c.Issuers, c.ClientIDs, c.SecretEnvs = append([]string(nil), ok.Issuers...), append([]string(nil), ok.ClientIDs...), append([]string(nil), ok.SecretEnvs...)
		tt.change(&c)
		if _, err := c.providers(getenv); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one naming %s", tt.name, err, tt.want)
		}
	}
}

// TestServeOIDCLogin: keygate serve with a provider shows "Sign in with
// <name>" and, with --no-password-login, no password form.
func TestServeOIDCLogin(t *testing.T) {
	t.Setenv("TEST_OIDC_SECRET", "secret")
	cfg := testServeConfig(t)
	cfg.OIDC = OIDCConfig{Issuers: []string{"https://login.corp.example"}, ClientIDs: []string{"kg"},
		SecretEnvs: []string{"TEST_OIDC_SECRET"}, Names: []string{"Corp SSO"}, NoPasswordLogin: true}
	m := openMain(t, cfg)
	m.serve(t)
	res, err := http.Get("http://" + m.listener.Addr().String() + "/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "Sign in with Corp SSO") || strings.Contains(string(b), `id="password"`) {
		t.Errorf("GET /login:\n%s", b)
	}
}
