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

// TestUnknownKIDsDoNotFloodTheIssuer: tokens naming made-up kids make the
// keys fetched again at most once per UnknownKIDInterval; a known kid
// keeps verifying meanwhile.
func TestUnknownKIDsDoNotFloodTheIssuer(t *testing.T) {
	idp := idptest.NewES256(t)
	v := idtoken.New(nil)
	now := time.Now()
	v.SetClock(func() time.Time { return now })
	c := idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", now)
	if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.Sign(c)); err != nil {
		t.Fatal(err)
	}
	before := idp.JWKSFetches()
	for range 20 {
		if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.SignWith(idptest.NewES256Key(), c)); err == nil {
			t.Fatal("a token of an unpublished key verified")
		}
	}
	if got := idp.JWKSFetches() - before; got != 1 {
		t.Errorf("20 tokens of unknown kids fetched the JWKS %d times, want 1", got)
	}
	if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.Sign(c)); err != nil {
		t.Errorf("a known kid meanwhile = %v", err)
	}
	now = now.Add(idtoken.UnknownKIDInterval)
	idp.AddKey()
	if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", idp.Sign(c)); err != nil {
		t.Errorf("a newly published key after the interval = %v", err)
	}
}

// TestIssuerDownKeepsKnownKeys: once the keys are due to be fetched again,
// an issuer that cannot be reached leaves the keys known working.
func TestIssuerDownKeepsKnownKeys(t *testing.T) {
	idp := idptest.NewES256(t)
	v := idtoken.New(nil)
	now := time.Now()
	v.SetClock(func() time.Time { return now })
	tok := idp.Sign(idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", now))
	if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", tok); err != nil {
		t.Fatal(err)
	}
	idp.Close()
	now = now.Add(idtoken.KeysTTL)
	for i := range 2 {
		if _, err := v.VerifySubjectToken(t.Context(), idp.URL, "keygate", tok); err != nil {
			t.Errorf("verification %d with the issuer down = %v, want the known key to verify", i, err)
		}
	}
}
