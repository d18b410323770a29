package idtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate"
)

// Algorithms lists the signature algorithms a subject token may use: the
// asymmetric ones of RFC 7518 §3.1 and EdDSA. "none" and the HMAC
// algorithms are never accepted: an HS256 token "signed" with an issuer's
// public key is refused before any key is looked at.
var Algorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

// KeysTTL is how long an issuer's discovery document and keys are
// trusted before they are fetched again: a key the issuer takes out of
// its JWKS stops verifying within it. A token naming a kid the keys lack
// makes them fetched again at once (go-oidc's RemoteKeySet), so a key the
// issuer adds is followed at once.
const KeysTTL = 5 * time.Minute

// Verifier verifies subject tokens against their issuers' published keys.
// It is safe for concurrent use.
type Verifier struct {
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	providers map[string]*provider
}

type provider struct {
	p       *oidc.Provider
	fetched time.Time
	// known holds the kids that verified a token; lastUnknown is when a
	// token last named another one (and so made the keys fetched again).
	known       map[string]bool
	lastUnknown time.Time
	tried       bool // a token was verified against the keys: they were fetched
}

// UnknownKIDInterval is how often a token naming a kid the issuer's keys
// are not known to hold may make them fetched again: tokens with made-up
// kids cannot turn keygate into a flood of requests to the issuer. A key
// the issuer adds is followed at its first token, unless another unknown
// kid was tried within the interval.
const UnknownKIDInterval = 10 * time.Second

var errUnknownKID = errors.New("the token's kid is not among the issuer's keys, which were fetched again moments ago")

// New returns a Verifier that fetches with client (nil:
// http.DefaultClient's transport with a 10-second timeout).
func New(client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Verifier{client: client, now: time.Now, providers: map[string]*provider{}}
}

// VerifySubjectToken checks token's signature against issuer's JWKS (by
// kid; the keys are fetched again for an unknown kid), its algorithm
// against Algorithms, that its iss is issuer and that its aud holds
// audience, and returns its claims. Its times are the caller's to check.
// A discovery document that cannot be fetched or does not name issuer
// is an error wrapping keygate.ErrIssuerUnavailable; every other error
// means the token is refused.
func (v *Verifier) VerifySubjectToken(ctx context.Context, issuer, audience, token string) (map[string]any, error) {
	prov, err := v.provider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	p := prov.p
	kid, err := keyID(token)
	if err != nil {
		return nil, err
	}
	if !v.mayTry(prov, kid) {
		return nil, errUnknownKID
	}
	// Provider.Verifier shares one key set per provider (fetched with the
	// client the provider was discovered with): VerifierContext would
	// make a new one, and fetch the JWKS, on every call.
	idt, err := p.Verifier(&oidc.Config{
		ClientID:             audience,
		SupportedSigningAlgs: Algorithms,
		SkipExpiryCheck:      true, // the service checks exp, nbf and iat with its skew
	}).Verify(oidc.ClientContext(ctx, v.client), token)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, err
	}
	v.mu.Lock()
	prov.known[kid] = true
	v.mu.Unlock()
	return claims, nil
}

// keyID returns the kid of token's protected header, refusing at once a
// token whose algorithm is not in Algorithms.
func keyID(token string) (string, error) {
	algs := make([]jose.SignatureAlgorithm, len(Algorithms))
	for i, a := range Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSigned(token, algs)
	if err != nil {
		return "", err
	}
	if len(jws.Signatures) != 1 {
		return "", errors.New("the token has more than one signature")
	}
	return jws.Signatures[0].Header.KeyID, nil
}

// mayTry reports whether a token of kid may be verified now: it is the
// first token since the keys were discovered (which fetches them anyway),
// its kid is known, or no unknown kid was tried within
// UnknownKIDInterval.
func (v *Verifier) mayTry(p *provider, kid string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !p.tried {
		p.tried = true
		return true
	}
	if p.known[kid] {
		return true
	}
	now := v.now()
	if !p.lastUnknown.IsZero() && now.Sub(p.lastUnknown) < UnknownKIDInterval {
		return false
	}
	p.lastUnknown = now
	return true
}

// SetClock replaces time.Now, for tests that move time past KeysTTL.
func (v *Verifier) SetClock(now func() time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now = now
}

// provider returns issuer's discovered provider, fetching its discovery
// document (and, with it, a fresh key set) when it is not cached or is
// older than KeysTTL.
func (v *Verifier) provider(ctx context.Context, issuer string) (*provider, error) {
	v.mu.Lock()
	p, ok := v.providers[issuer]
	now := v.now()
	v.mu.Unlock()
	if ok && now.Sub(p.fetched) < KeysTTL {
		return p, nil
	}
	// The provider keeps this context for fetching keys later: it must
	// carry the client and no deadline of this request.
	op, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), v.client), issuer)
	if err != nil {
		if ok {
			// The issuer is down: the keys known keep working, and the
			// next attempt is a minute away, not on every exchange.
			v.mu.Lock()
			p.fetched = now.Add(time.Minute - KeysTTL)
			v.mu.Unlock()
			return p, nil
		}
		return nil, fmt.Errorf("discovery of %s: %w: %w", issuer, keygate.ErrIssuerUnavailable, err)
	}
	np := &provider{p: op, fetched: now, known: map[string]bool{}}
	v.mu.Lock()
	v.providers[issuer] = np
	v.mu.Unlock()
	return np, nil
}
