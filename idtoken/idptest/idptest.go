// Package idptest is an OpenID provider for tests, served over real HTTP
// on loopback: a discovery document (OpenID Connect Discovery 1.0 §4), a
// JWKS of RS256 (or ES256) keys that can be rotated, tokens signed with
// the claims that GitHub Actions and Kubernetes put in theirs, and the
// authorization code flow with PKCE, a login page and ID tokens (login.go). It also signs
// the hostile tokens a verifier must refuse: alg "none", HS256 with the
// public key as its secret, keys the JWKS never published.
//
// It is for tests only, and imports nothing of keygate's.
package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Provider is a running OpenID provider. Its issuer is URL.
type Provider struct {
	URL string

	srv       *httptest.Server
	mu        sync.Mutex
	published []*Key // in the JWKS
	current   *Key
	fetches   atomic.Int64 // JWKS requests served
	mux       *http.ServeMux
	newKey    func() *Key

	// The authorization code flow (login.go).
	clients map[string]client
	users   map[string]User
	grants  map[string]grant // by code
	nonce   string           // forced into ID tokens when set
}

// Key is a signing key of the provider: RS256, as GitHub's and most
// issuers' are, or ES256.
type Key struct {
	ID   string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

// New starts a provider on 127.0.0.1, closed when t ends.
func New(t testing.TB) *Provider { return newProvider(t, NewKey) }

// NewES256 is New with ES256 keys, which are much cheaper to make: for
// fuzz targets, whose instrumented workers each make the provider's key.
func NewES256(t testing.TB) *Provider { return newProvider(t, NewES256Key) }

func newProvider(t testing.TB, newKey func() *Key) *Provider {
	t.Helper()
	p := &Provider{mux: http.NewServeMux(), newKey: newKey,
		clients: map[string]client{}, users: map[string]User{}, grants: map[string]grant{}}
	p.current = newKey()
	p.published = []*Key{p.current}
	p.mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	p.mux.HandleFunc("GET /jwks", p.jwks)
	p.mux.HandleFunc("GET /authorize", p.authorizePage)
	p.mux.HandleFunc("POST /authorize", p.authorize)
	p.mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(p.mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Close stops the provider before its test ends: an issuer gone down.
func (p *Provider) Close() { p.srv.Close() }

// NewKey returns a fresh RS256 key that no provider publishes.
func NewKey() *Key {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return &Key{ID: randomID()[:16], alg: jose.RS256, priv: priv}
}

// NewES256Key returns a fresh ES256 (P-256) key that no provider
// publishes.
func NewES256Key() *Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Key{ID: randomID()[:16], alg: jose.ES256, priv: priv}
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                p.URL,
		"jwks_uri":                              p.URL + "/jwks",
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"response_types_supported":              []string{"code", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	p.mu.Lock()
	var set jose.JSONWebKeySet
	for _, k := range p.published {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.ID, Algorithm: string(k.alg), Use: "sig"})
	}
	p.mu.Unlock()
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// JWKSFetches returns how many times the JWKS was fetched.
func (p *Provider) JWKSFetches() int64 { return p.fetches.Load() }

// Current returns the key the provider signs with.
func (p *Provider) Current() *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// Rotate makes a new current key and takes the old one out of the JWKS,
// returning it: tokens it signed no longer verify.
func (p *Provider) Rotate() *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.current
	p.current = p.newKey()
	p.published = []*Key{p.current}
	return old
}

// AddKey publishes a new key beside the current ones and makes it
// current, the way issuers announce a key before they use it.
func (p *Provider) AddKey() *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = p.newKey()
	p.published = append(p.published, p.current)
	return p.current
}

// Sign returns claims signed with the current key.
func (p *Provider) Sign(claims map[string]any) string { return p.SignWith(p.Current(), claims) }

// SignWith returns claims signed with k, whose id is the kid.
func (p *Provider) SignWith(k *Key, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.ID))
	if err != nil {
		panic(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		panic(err)
	}
	return tok
}

// Unsigned returns claims as an unsecured JWT: alg "none", no signature
// (RFC 7519 §6).
func (p *Provider) Unsigned(claims map[string]any) string {
	return segment(map[string]any{"alg": "none", "typ": "JWT"}) + "." + segment(claims) + "."
}

// HS256WithPublicKey returns claims signed HS256 with the DER of the
// current key's public half as the HMAC secret, under its kid: the
// algorithm confusion that a verifier picking the algorithm from the
// header would accept.
func (p *Provider) HS256WithPublicKey(claims map[string]any) string {
	k := p.Current()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		panic(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: der},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.ID))
	if err != nil {
		panic(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		panic(err)
	}
	return tok
}

func segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// GitHubActions returns the claims of a GitHub Actions job's OIDC token
// for repo (owner/name) on ref, issued by iss for aud at now and valid
// for five minutes, as GitHub documents them ("About security hardening
// with OpenID Connect").
func GitHubActions(iss, aud, repo, ref string, now time.Time) map[string]any {
	owner := repo
	for i := range repo {
		if repo[i] == '/' {
			owner = repo[:i]
			break
		}
	}
	return map[string]any{
		"iss": iss, "aud": aud,
		"sub":                "repo:" + repo + ":ref:" + ref,
		"jti":                randomID(),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(5 * time.Minute).Unix(),
		"repository":         repo,
		"repository_owner":   owner,
		"ref":                ref,
		"ref_type":           "branch",
		"event_name":         "push",
		"workflow":           "ci",
		"actor":              "octocat",
		"run_id":             "1234567890",
		"environment":        "production",
		"job_workflow_ref":   repo + "/.github/workflows/ci.yml@" + ref,
		"runner_environment": "github-hosted",
	}
}

// Kubernetes returns the claims of a projected service account token of
// account in namespace, issued by iss for aud at now and valid for an
// hour: a sub of "system:serviceaccount:NS:NAME" and the nested
// "kubernetes.io" object.
func Kubernetes(iss, aud, namespace, account string, now time.Time) map[string]any {
	return map[string]any{
		"iss": iss, "aud": []string{aud},
		"sub": "system:serviceaccount:" + namespace + ":" + account,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]any{"name": account, "uid": randomID()},
			"pod":            map[string]any{"name": account + "-7d9f8", "uid": randomID()},
		},
	}
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
