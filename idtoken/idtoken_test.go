package idtoken_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/idtoken/idptest"
)

// TestKeysFetchedAgainForUnknownKID: a token signed with a key the issuer
// published after the last fetch verifies (the JWKS is fetched again for
// its kid); a token of a known key costs no fetch.
func TestKeysFetchedAgainForUnknownKID(t *testing.T) {
	idp := idptest.New(t)
	v := idtoken.New(nil)
	claims := func() map[string]any {
		return idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", time.Now())
	}
	if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.Sign(claims())); err != nil {
		t.Fatal(err)
	}
	fetches := idp.JWKSFetches()
	if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.Sign(claims())); err != nil {
		t.Fatal(err)
	}
	if got := idp.JWKSFetches(); got != fetches {
		t.Errorf("a known kid fetched the JWKS again (%d fetches, want %d)", got, fetches)
	}
	idp.AddKey()
	got, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.Sign(claims()))
	if err != nil {
		t.Fatalf("a token of a newly published key = %v", err)
	}
	if got["repository"] != "octo-org/app" {
		t.Errorf("claims = %v", got)
	}
	if idp.JWKSFetches() != fetches+1 {
		t.Errorf("JWKS fetches = %d, want one more than %d", idp.JWKSFetches(), fetches)
	}
}

// TestIssuerUnavailable: an issuer whose discovery document cannot be
// fetched is ErrIssuerUnavailable, not a refused token.
func TestIssuerUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = idtoken.New(nil).VerifySubjectToken(t.Context(), "http://"+addr, "keygate", "eyJ.e30.x")
	if !errors.Is(err, keygate.ErrIssuerUnavailable) {
		t.Errorf("VerifySubjectToken(issuer down) = %v, want ErrIssuerUnavailable", err)
	}
}

// TestAlgorithmsRefused: alg none and HMAC tokens are refused whatever
// their claims.
func TestAlgorithmsRefused(t *testing.T) {
	idp := idptest.New(t)
	v := idtoken.New(nil)
	c := idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", time.Now())
	for name, tok := range map[string]string{"none": idp.Unsigned(c), "hs256-public-key": idp.HS256WithPublicKey(c)} {
		if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", tok); err == nil || errors.Is(err, keygate.ErrIssuerUnavailable) {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}
