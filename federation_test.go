package keygate_test

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/idtoken/idptest"
)

// fedFixture is a fixture whose service verifies subject tokens against
// a real OpenID provider on loopback.
type fedFixture struct {
	*fixture
	idp *idptest.Provider
}

func newFedFixture(t *testing.T) *fedFixture {
	t.Helper()
	v := idtoken.New(nil)
	f := newFixture(t, keygate.WithSubjectTokenVerifier(v))
	v.SetClock(f.clock.Now)
	return &fedFixture{fixture: f, idp: idptest.New(t)}
}

// policy creates a policy of the fixture's user trusting the provider's
// tokens for audience "keygate" from repositories of octo-org on main.
func (f *fedFixture) policy(p keygate.NewFederationPolicyParams) *keygate.FederationPolicy {
	f.t.Helper()
	if p.UserID == "" {
		p.UserID = f.user.ID
	}
	if p.Issuer == "" {
		p.Issuer = f.idp.URL
	}
	if p.Audience == "" {
		p.Audience = "keygate"
	}
	if p.Subject == "" && p.Claims == nil {
		p.Subject = "repo:octo-org/*"
		p.Claims = map[string]string{"ref": "refs/heads/main"}
	}
	pol, err := f.svc.CreateFederationPolicy(f.ctx, p)
	if err != nil {
		f.t.Fatalf("CreateFederationPolicy = %v", err)
	}
	return pol
}

func (f *fedFixture) githubClaims() map[string]any {
	return idptest.GitHubActions(f.idp.URL, "keygate", "octo-org/app", "refs/heads/main", f.clock.Now())
}

func (f *fedFixture) exchange(pol *keygate.FederationPolicy, token string) (*keygate.IssuedToken, error) {
	return f.svc.ExchangeToken(f.ctx, keygate.TokenExchangeParams{
		GrantType: keygate.GrantTypeTokenExchange, SubjectToken: token, SubjectTokenType: keygate.TokenTypeJWT,
		FederationPolicyID: pol.ID,
	})
}

func oauthCode(err error) string {
	if e, ok := errors.AsType[*keygate.OAuthError](err); ok {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return "not an OAuthError: " + err.Error()
}

// TestTokenExchangeSpendsThroughPolicy: a GitHub Actions-like token buys
// an access token that authenticates as the policy's key, is charged to
// it, and stops at its limit; deleting the policy stops the token at once.
func TestTokenExchangeSpendsThroughPolicy(t *testing.T) {
	f := newFedFixture(t)
	limit := 0.000500
	pol := f.policy(keygate.NewFederationPolicyParams{LimitUSD: &limit, LimitReset: "daily"})
	tok, err := f.exchange(pol, f.idp.Sign(f.githubClaims()))
	if err != nil {
		t.Fatalf("ExchangeToken = %v", err)
	}
	// The provider's token lives 5 minutes: the access token no longer.
	if tok.ExpiresIn != 300 || tok.Scope != "inference" {
		t.Errorf("ExchangeToken = expires_in %d, scope %q; want 300, inference", tok.ExpiresIn, tok.Scope)
	}
	k, err := f.svc.Authenticate(f.ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate(access token) = %v", err)
	}
	if k.Hash != pol.KeyHash || k.UserID != f.user.ID || k.WorkspaceID != pol.WorkspaceID {
		t.Fatalf("Authenticate = key %s of %s in %s, want the policy's %s", k.Hash, k.UserID, k.WorkspaceID, pol.KeyHash)
	}
	r := f.reserve(k, 300)
	if err := f.svc.Settle(f.ctx, r, &keygate.Generation{Model: "m", Cost: 300}); err != nil {
		t.Fatal(err)
	}
	info, err := f.svc.KeyInfo(f.ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if info.Usage.Daily != 300 || info.Remaining == nil || *info.Remaining != 200 {
		t.Errorf("KeyInfo = daily %d, remaining %v; want 300, 200", info.Usage.Daily, info.Remaining)
	}
	r = f.reserve(k, 200)
	if err := f.svc.Settle(f.ctx, r, &keygate.Generation{Model: "m", Cost: 200}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reserve(f.ctx, k, 1); keygate.ErrorCode(err) != keygate.EFORBIDDEN {
		t.Errorf("Reserve past the policy's limit = %v, want forbidden", err)
	}

	if err := f.svc.DeleteFederationPolicy(f.ctx, f.user.ID, pol.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(f.ctx, tok.AccessToken); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("Authenticate after the policy was deleted = %v, want unauthorized", err)
	}
	if _, err := f.exchange(pol, f.idp.Sign(f.githubClaims())); oauthCode(err) != "invalid_target" {
		t.Errorf("exchange under a deleted policy = %v, want invalid_target", err)
	}
}

// TestTokenExchangeHostile: every subject token that fails a check is
// refused with invalid_grant (the same description whatever failed), and
// request errors with their RFC 6749 §5.2 code.
func TestTokenExchangeHostile(t *testing.T) {
	f := newFedFixture(t)
	pol := f.policy(keygate.NewFederationPolicyParams{})
	now := f.clock.Now()
	with := func(change func(c map[string]any)) map[string]any {
		c := f.githubClaims()
		change(c)
		return c
	}
	otherIdP := idptest.New(t)
	rotatedOut := f.idp.Current()
	tests := []struct {
		name  string
		token func() string
		code  string
	}{
		{"expired", func() string {
			return f.idp.Sign(with(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }))
		}, "invalid_grant"},
		{"expired-within-skew-but-past", func() string {
			return f.idp.Sign(with(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }))
		}, "invalid_grant"},
		{"not-yet-valid", func() string {
			return f.idp.Sign(with(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }))
		}, "invalid_grant"},
		{"issued-in-the-future", func() string {
			return f.idp.Sign(with(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() }))
		}, "invalid_grant"},
		{"no-exp", func() string { return f.idp.Sign(with(func(c map[string]any) { delete(c, "exp") })) }, "invalid_grant"},
		{"wrong-audience", func() string {
			return f.idp.Sign(with(func(c map[string]any) { c["aud"] = "sts.amazonaws.com" }))
		}, "invalid_grant"},
		{"wrong-issuer-claim", func() string {
			return f.idp.Sign(with(func(c map[string]any) { c["iss"] = otherIdP.URL }))
		}, "invalid_grant"},
		{"another-issuers-token", func() string {
			return otherIdP.Sign(idptest.GitHubActions(otherIdP.URL, "keygate", "octo-org/app", "refs/heads/main", now))
		}, "invalid_grant"},
		{"unknown-kid", func() string { return f.idp.SignWith(idptest.NewKey(), f.githubClaims()) }, "invalid_grant"},
		{"alg-none", func() string { return f.idp.Unsigned(f.githubClaims()) }, "invalid_grant"},
		{"hs256-with-public-key", func() string { return f.idp.HS256WithPublicKey(f.githubClaims()) }, "invalid_grant"},
		{"subject-not-matched", func() string {
			return f.idp.Sign(idptest.GitHubActions(f.idp.URL, "keygate", "evil-org/app", "refs/heads/main", now))
		}, "invalid_grant"},
		{"claim-not-matched", func() string {
			return f.idp.Sign(idptest.GitHubActions(f.idp.URL, "keygate", "octo-org/app", "refs/heads/feature", now))
		}, "invalid_grant"},
		{"garbage", func() string { return "not a jwt" }, "invalid_grant"},
		{"signed-by-a-rotated-out-key", func() string {
			// keygate has the key cached; once the keys are fetched
			// again (idtoken.KeysTTL), the one the issuer dropped is gone.
			f.idp.Rotate()
			f.clock.Set(f.clock.Now().Add(idtoken.KeysTTL))
			return f.idp.SignWith(rotatedOut, f.githubClaims())
		}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.exchange(pol, tt.token())
			if got := oauthCode(err); got != tt.code {
				t.Fatalf("ExchangeToken = %v, want %s", err, tt.code)
			}
			if e, _ := errors.AsType[*keygate.OAuthError](err); e.Description != "the subject token is not accepted by the federation policy" {
				t.Errorf("description = %q: it must not say which check failed", e.Description)
			}
		})
	}

	good := f.idp.Sign(f.githubClaims())
	params := []struct {
		name string
		p    keygate.TokenExchangeParams
		code string
	}{
		{"no-grant-type", keygate.TokenExchangeParams{SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: pol.ID}, "invalid_request"},
		{"other-grant-type", keygate.TokenExchangeParams{GrantType: "authorization_code", SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: pol.ID}, "unsupported_grant_type"},
		{"no-subject-token", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: pol.ID}, "invalid_request"},
		{"wrong-subject-token-type", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectToken: good, SubjectTokenType: "urn:ietf:params:oauth:token-type:id_token", FederationPolicyID: pol.ID}, "invalid_request"},
		{"wrong-requested-type", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT, RequestedTokenType: "urn:ietf:params:oauth:token-type:refresh_token", FederationPolicyID: pol.ID}, "invalid_request"},
		{"wrong-scope", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT, Scope: "admin", FederationPolicyID: pol.ID}, "invalid_scope"},
		{"no-policy", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT}, "invalid_request"},
		{"unknown-policy", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: "5f0c7a42-1111-4222-8333-944455556666"}, "invalid_target"},
		{"malformed-policy", keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange, SubjectToken: good, SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: "'; DROP TABLE x"}, "invalid_target"},
	}
	for _, tt := range params {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.ExchangeToken(f.ctx, tt.p); oauthCode(err) != tt.code {
				t.Errorf("ExchangeToken = %v, want %s", err, tt.code)
			}
		})
	}
}

// TestTokenExchangeJTIOnce: a subject token with a jti is exchanged once;
// one without (older Kubernetes tokens) until it expires.
func TestTokenExchangeJTIOnce(t *testing.T) {
	f := newFedFixture(t)
	pol := f.policy(keygate.NewFederationPolicyParams{})
	tok := f.idp.Sign(f.githubClaims())
	if _, err := f.exchange(pol, tok); err != nil {
		t.Fatalf("first exchange = %v", err)
	}
	if _, err := f.exchange(pol, tok); oauthCode(err) != "invalid_grant" {
		t.Errorf("replayed exchange = %v, want invalid_grant", err)
	}

	k8s := f.policy(keygate.NewFederationPolicyParams{Subject: "system:serviceaccount:prod:*",
		Claims: map[string]string{"kubernetes.io/namespace": "prod", "kubernetes.io/serviceaccount/name": "batch-*"}})
	sa := f.idp.Sign(idptest.Kubernetes(f.idp.URL, "keygate", "prod", "batch-runner", f.clock.Now()))
	for i := range 2 {
		got, err := f.exchange(k8s, sa)
		if err != nil {
			t.Fatalf("exchange %d of a token without jti = %v", i, err)
		}
		if got.ExpiresIn != 900 {
			t.Errorf("expires_in = %d, want 900 (the policy's 15 minutes, the token lives an hour)", got.ExpiresIn)
		}
	}
	other := f.idp.Sign(idptest.Kubernetes(f.idp.URL, "keygate", "dev", "batch-runner", f.clock.Now()))
	if _, err := f.exchange(k8s, other); oauthCode(err) != "invalid_grant" {
		t.Errorf("another namespace's token = %v, want invalid_grant", err)
	}
}

// TestSigningKeyRotation: tokens signed before a rotation keep working
// until they expire; the JWKS holds both keys meanwhile and drops the old
// one after its grace; new tokens carry the new kid.
func TestSigningKeyRotation(t *testing.T) {
	f := newFedFixture(t)
	pol := f.policy(keygate.NewFederationPolicyParams{Subject: "system:serviceaccount:prod:*"})
	k8s := func() string {
		return f.idp.Sign(idptest.Kubernetes(f.idp.URL, "keygate", "prod", "api", f.clock.Now()))
	}
	before, err := f.exchange(pol, k8s())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.svc.SigningKeys(f.ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("SigningKeys = %v, %v; want one key", keys, err)
	}
	oldKID := keys[0].ID
	newKID, err := f.svc.RotateSigningKey(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ = f.svc.SigningKeys(f.ctx)
	if len(keys) != 2 || keys[0].ID != newKID || keys[1].ID != oldKID {
		t.Fatalf("SigningKeys after rotation = %+v, want the new key then the old", keys)
	}
	after, err := f.exchange(pol, k8s())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(headerOf(t, after.AccessToken), newKID) {
		t.Errorf("a token issued after the rotation is not signed by %s", newKID)
	}
	f.clock.Set(f.clock.Now().Add(14 * time.Minute))
	for name, tok := range map[string]string{"before": before.AccessToken, "after": after.AccessToken} {
		if _, err := f.svc.Authenticate(f.ctx, tok); err != nil {
			t.Errorf("Authenticate(token issued %s the rotation, 14 min later) = %v", name, err)
		}
	}
	f.clock.Set(f.clock.Now().Add(2 * time.Minute))
	if _, err := f.svc.Authenticate(f.ctx, before.AccessToken); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("Authenticate(expired token) = %v, want unauthorized", err)
	}
	f.clock.Set(f.clock.Now().Add(keygate.SigningKeyGrace))
	keys, _ = f.svc.SigningKeys(f.ctx)
	if len(keys) != 1 || keys[0].ID != newKID {
		t.Errorf("SigningKeys after the grace = %+v, want only %s", keys, newKID)
	}
}

func headerOf(t *testing.T, jwt string) string {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestForgedAccessTokens: keygate accepts only tokens its own keys signed.
func TestForgedAccessTokens(t *testing.T) {
	f := newFedFixture(t)
	pol := f.policy(keygate.NewFederationPolicyParams{})
	good, err := f.exchange(pol, f.idp.Sign(f.githubClaims()))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good.AccessToken, ".")
	claims := map[string]any{"iss": keygate.DefaultTokenIssuer, "aud": keygate.DefaultTokenIssuer, "key_hash": pol.KeyHash,
		"exp": f.clock.Now().Add(time.Hour).Unix(), "iat": f.clock.Now().Unix()}
	for name, tok := range map[string]string{
		"another-issuers-key": f.idp.Sign(claims),
		"alg-none":            f.idp.Unsigned(claims),
		"swapped-payload":     parts[0] + "." + strings.Split(f.idp.Unsigned(claims), ".")[1] + "." + parts[2],
		"no-signature":        parts[0] + "." + parts[1] + ".",
	} {
		if _, err := f.svc.Authenticate(f.ctx, tok); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
			t.Errorf("Authenticate(%s) = %v, want unauthorized", name, err)
		}
	}
}

func TestCreateFederationPolicyRules(t *testing.T) {
	f := newFedFixture(t)
	neg := -1.0
	tests := []struct {
		name  string
		p     keygate.NewFederationPolicyParams
		field string
	}{
		{"http-issuer", keygate.NewFederationPolicyParams{Issuer: "http://issuer.example", Subject: "x"}, "issuer"},
		{"issuer-query", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example/?a=b", Subject: "x"}, "issuer"},
		{"relative-issuer", keygate.NewFederationPolicyParams{Issuer: "issuer.example", Subject: "x"}, "issuer"},
		{"no-condition", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Claims: map[string]string{}}, "subject or claims"},
		{"claim-on-aud", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Claims: map[string]string{"aud": "x"}}, "claims"},
		{"empty-pattern", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Claims: map[string]string{"ref": ""}}, "claims"},
		{"ttl-too-long", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Subject: "x", TokenTTL: 16 * time.Minute}, "token_ttl"},
		{"ttl-too-short", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Subject: "x", TokenTTL: 30 * time.Second}, "token_ttl"},
		{"negative-limit", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Subject: "x", LimitUSD: &neg}, "limit"},
		{"bad-reset", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Subject: "x", LimitReset: "hourly"}, "limit_reset"},
		{"not-your-workspace", keygate.NewFederationPolicyParams{Issuer: "https://issuer.example", Subject: "x", WorkspaceID: new("5f0c7a42-1111-4222-8333-944455556666")}, "workspace_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.UserID = f.user.ID
			tt.p.Audience = "keygate"
			_, err := f.svc.CreateFederationPolicy(f.ctx, tt.p)
			if keygate.ErrorCode(err) != keygate.EINVALID || !strings.Contains(keygate.ErrorMessage(err), tt.field) {
				t.Errorf("CreateFederationPolicy = %v, want invalid naming %s", err, tt.field)
			}
		})
	}
	pols, err := f.svc.FederationPolicies(f.ctx, f.user.ID)
	if err != nil || len(pols) != 0 {
		t.Errorf("FederationPolicies after refusals = %d, %v; want none", len(pols), err)
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"repo:octo-org/*", "repo:octo-org/app:ref:refs/heads/main", true},
		{"repo:octo-org/*", "repo:octo-organisation/app", false},
		{"repo:octo-org/app:ref:refs/heads/main", "repo:octo-org/app:ref:refs/heads/main", true},
		{"repo:octo-org/app:ref:refs/heads/main", "repo:octo-org/app:ref:refs/heads/mainx", false},
		{"*:environment:prod*", "repo:a/b:environment:production", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXcYYb", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a?c", "abc", false}, // ? is literal
	}
	for _, tt := range tests {
		if got := keygate.MatchPattern(tt.pattern, tt.s); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestSigningKeyRotatedElsewhere: a rotation made by another process on
// the same database (keygate jwks rotate) is seen at once by a replica
// that verifies a token of the new key, and within a minute by one that
// signs.
func TestSigningKeyRotatedElsewhere(t *testing.T) {
	f := newFedFixture(t)
	pol := f.policy(keygate.NewFederationPolicyParams{Subject: "system:serviceaccount:prod:*"})
	other := keygate.NewService(f.store, keygate.DefaultConfig(), keygate.WithClock(f.clock.Now),
		keygate.WithLogger(slog.New(slog.DiscardHandler)), keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	k8s := func() string {
		return f.idp.Sign(idptest.Kubernetes(f.idp.URL, "keygate", "prod", "api", f.clock.Now()))
	}
	first, err := f.exchange(pol, k8s())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Authenticate(f.ctx, first.AccessToken); err != nil {
		t.Fatalf("the other process: Authenticate(token of the first key) = %v", err)
	}
	newKID, err := other.RotateSigningKey(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// This process may sign with the old key for up to a minute...
	stale, err := f.exchange(pol, k8s())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(f.clock.Now().Add(5 * time.Second))
	jwks, err := f.svc.SigningKeys(f.ctx)
	if err != nil || len(jwks) != 2 || jwks[0].ID != newKID {
		t.Errorf("this process's JWKS 5 s after the rotation = %+v, %v; want %s first, then the old key", jwks, err, newKID)
	}
	f.clock.Set(f.clock.Now().Add(time.Minute))
	fresh, err := f.exchange(pol, k8s())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(headerOf(t, fresh.AccessToken), newKID) {
		t.Errorf("a minute after the rotation, tokens are not signed by %s: %s", newKID, headerOf(t, fresh.AccessToken))
	}
	// ...and every token of either key verifies on both.
	for _, svc := range []*keygate.Service{f.svc, other} {
		for _, tok := range []string{first.AccessToken, stale.AccessToken, fresh.AccessToken} {
			if _, err := svc.Authenticate(f.ctx, tok); err != nil {
				t.Errorf("Authenticate = %v", err)
			}
		}
	}
}
