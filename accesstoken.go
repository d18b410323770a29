package keygate

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// keygate's access tokens: JWTs signed ES256 (RFC 7518 §3.4, P-256) by a
// key of keygate's own, issued by the token exchange and accepted as
// "Authorization: Bearer" wherever a key is. Their keys are generated at
// first start and kept in the store; the public halves are published at
// GET /api/v1/oauth/jwks (OpenRouter's listOauthJwks).

// SigningKey is an ES256 key pair of keygate's access tokens, as stored.
type SigningKey struct {
	ID         string // the kid of the tokens it signs
	PrivateKey []byte // PKCS #8 DER of an ECDSA P-256 private key
	CreatedAt  time.Time
	// RetiredAt is when a newer key took over signing; nil for the
	// current key. A retired key still verifies for SigningKeyGrace.
	RetiredAt *time.Time
}

// SigningKeyGrace is how long a retired signing key still verifies: the
// longest an access token lives, plus how late a replica may learn of a
// rotation (signingKeyRefresh) and sign with the old key meanwhile, plus
// the clock skew between replicas. After that every token it signed has
// expired, and the key leaves the JWKS.
const SigningKeyGrace = MaxAccessTokenTTL + signingKeyRefresh + time.Minute

// signingKeyRefresh is how often the signing keys are read from the store
// again, so that a rotation made by another process (keygate jwks rotate)
// is used for signing within it.
const signingKeyRefresh = time.Minute

// jwksRefresh is how old the keys in memory may be when the JWKS is
// served: a key made by a rotation elsewhere is published within it, well
// before replicas sign with it (signingKeyRefresh).
const jwksRefresh = 5 * time.Second

// PublicSigningKey is the public half of a signing key for the JWKS: an
// EC P-256 key (RFC 7518 §6.2.1) whose X and Y are base64url without
// padding.
type PublicSigningKey struct {
	ID   string
	X, Y string
}

// accessTokenClaims are the claims of keygate's access tokens: the
// registered ones of RFC 7519 §4.1, the scope of RFC 8693 §4.2, and the
// hash of the key that the token spends through.
type accessTokenClaims struct {
	jwt.Claims
	Scope   string `json:"scope"`
	KeyHash string `json:"key_hash"`
	Policy  string `json:"federation_policy_id"`
}

type verifyingKey struct {
	pub     *ecdsa.PublicKey
	retired *time.Time
}

// signer holds the signing keys in memory: the current one to sign with,
// every one still in its grace to verify with.
type signer struct {
	mu       sync.RWMutex
	current  *ecdsa.PrivateKey
	kid      string
	verify   map[string]verifyingKey
	public   []PublicSigningKey // the JWKS, the current key first
	loaded   time.Time          // when the keys were last read from the store
	lastMiss time.Time          // when an unknown kid last made us read them
}

// EnsureSigningKey makes the first signing key unless the store holds a
// current one, and loads the keys. keygate serve calls it at start; the
// exchange calls it too, so a key exists before the first token.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	if err := s.loadSigningKeys(ctx); err != nil {
		return err
	}
	s.signer.mu.RLock()
	have := s.signer.current != nil
	s.signer.mu.RUnlock()
	if have {
		return nil
	}
	k, err := newSigningKey(s.Now())
	if err != nil {
		return err
	}
	// Two processes starting at once both try; the store lets one key be
	// current, and the loser loads the winner's.
	if err := s.store.CreateSigningKey(ctx, k); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("create signing key: %w", err)
	}
	return s.loadSigningKeys(ctx)
}

// RotateSigningKey makes a new current signing key and retires the old
// one, which keeps verifying the tokens it signed for SigningKeyGrace. It
// returns the new key's id.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
	k, err := newSigningKey(s.Now())
	if err != nil {
		return "", err
	}
	if err := s.store.RotateSigningKey(ctx, k, k.CreatedAt); err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditSigningKeyRotated, Detail: k.ID})
	return k.ID, s.loadSigningKeys(ctx)
}

// SigningKeys returns the public halves of the keys that verify access
// tokens now, the current one first: the JWKS. They come from memory,
// read from the store again when jwksRefresh old, so that the public
// endpoint costs at most one database read per jwksRefresh.
func (s *Service) SigningKeys(ctx context.Context) ([]PublicSigningKey, error) {
	s.signer.mu.RLock()
	stale := s.signer.current == nil || s.now().Sub(s.signer.loaded) >= jwksRefresh
	s.signer.mu.RUnlock()
	if stale {
		if err := s.EnsureSigningKey(ctx); err != nil {
			return nil, err
		}
	}
	s.signer.mu.RLock()
	defer s.signer.mu.RUnlock()
	out := make([]PublicSigningKey, 0, len(s.signer.public))
	for _, k := range s.signer.public {
		if s.stillVerifies(s.signer.verify[k.ID].retired) {
			out = append(out, k)
		}
	}
	return out, nil
}

// publicKey is the JWK form of pub.
func publicKey(id string, pub *ecdsa.PublicKey) (PublicSigningKey, error) {
	b, err := pub.Bytes() // 0x04 || X || Y (SEC 1 §2.3.3), 32 bytes each on P-256
	if err != nil || len(b) != 65 {
		return PublicSigningKey{}, fmt.Errorf("signing key %s: not a P-256 point", id)
	}
	return PublicSigningKey{ID: id, X: base64.RawURLEncoding.EncodeToString(b[1:33]), Y: base64.RawURLEncoding.EncodeToString(b[33:])}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Service) stillVerifies(retired *time.Time) bool {
	return retired == nil || s.Now().Before(retired.Add(SigningKeyGrace))
}

func newSigningKey(now time.Time) (*SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	var id [8]byte
	rand.Read(id[:])
	return &SigningKey{ID: "kg-" + hex.EncodeToString(id[:]), PrivateKey: der, CreatedAt: now}, nil
}

func parseSigningKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key")
	}
	return ec, nil
}

// loadSigningKeys reads the keys from the store into the signer.
func (s *Service) loadSigningKeys(ctx context.Context) error {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	// The current key first, whatever the clock said when each was made.
	slices.SortStableFunc(keys, func(a, b *SigningKey) int {
		return cmp.Compare(boolInt(a.RetiredAt != nil), boolInt(b.RetiredAt != nil))
	})
	verify := make(map[string]verifyingKey, len(keys))
	var public []PublicSigningKey
	var current *ecdsa.PrivateKey
	var kid string
	for _, k := range keys {
		if !s.stillVerifies(k.RetiredAt) {
			continue
		}
		priv, err := parseSigningKey(k.PrivateKey)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		verify[k.ID] = verifyingKey{pub: &priv.PublicKey, retired: k.RetiredAt}
		jwk, err := publicKey(k.ID, &priv.PublicKey)
		if err != nil {
			return err
		}
		public = append(public, jwk)
		if k.RetiredAt == nil {
			current, kid = priv, k.ID
		}
	}
	s.signer.mu.Lock()
	s.signer.current, s.signer.kid, s.signer.verify, s.signer.public, s.signer.loaded = current, kid, verify, public, s.now()
	s.signer.mu.Unlock()
	return nil
}

// signAccessToken signs an access token for key hash under policy,
// valid from now until exp.
func (s *Service) signAccessToken(ctx context.Context, pol *FederationPolicy, now, exp time.Time) (string, error) {
	s.signer.mu.RLock()
	stale := s.signer.current == nil || s.now().Sub(s.signer.loaded) >= signingKeyRefresh
	s.signer.mu.RUnlock()
	if stale {
		if err := s.EnsureSigningKey(ctx); err != nil {
			return "", err
		}
	}
	s.signer.mu.RLock()
	priv, kid := s.signer.current, s.signer.kid
	s.signer.mu.RUnlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	var jti [16]byte
	rand.Read(jti[:])
	issuer := s.tokenIssuer()
	c := accessTokenClaims{
		Claims: jwt.Claims{Issuer: issuer, Subject: pol.ID, Audience: jwt.Audience{issuer},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp),
			ID: hex.EncodeToString(jti[:])},
		Scope: "inference", KeyHash: pol.KeyHash, Policy: pol.ID,
	}
	tok, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return tok, nil
}

// tokenIssuer is the iss (and aud) of keygate's access tokens.
func (s *Service) tokenIssuer() string {
	if s.cfg.TokenIssuer != "" {
		return s.cfg.TokenIssuer
	}
	return DefaultTokenIssuer
}

// DefaultTokenIssuer is the iss of access tokens when Config.TokenIssuer
// is empty; keygate serve sets it to its public URL.
const DefaultTokenIssuer = "keygate"

// looksLikeJWT reports whether a bearer credential is a compact JWS
// (three base64url parts) rather than a key.
func looksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2 && len(s) <= maxAccessTokenLen
}

const maxAccessTokenLen = 4096

var errInvalidToken = &Error{Code: EUNAUTHORIZED, Message: "Invalid access token"}

// authenticateAccessToken returns the key an access token spends through.
// A token verified once is remembered until it expires, so that the next
// request costs no more than a cached key: one map lookup, then the key's
// own checks through the key cache (a policy deleted since disabled it).
func (s *Service) authenticateAccessToken(ctx context.Context, token string) (*APIKey, error) {
	now := s.now()
	keyHash, ok := s.tokens.get(token, now)
	if !ok {
		c, err := s.verifyAccessToken(token, now)
		if err != nil {
			return nil, err
		}
		keyHash = c.KeyHash
		s.tokens.put(token, keyHash, c.Expiry.Time(), now)
	}
	k, err := s.activeKey(ctx, keyHash)
	if err != nil {
		return nil, err
	}
	if _, err := s.activeAncestors(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// verifyAccessToken checks an access token's signature (ES256 only, by
// kid), issuer, audience and lifetime.
func (s *Service) verifyAccessToken(token string, now time.Time) (*accessTokenClaims, error) {
	t, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(t.Headers) != 1 {
		return nil, errInvalidToken
	}
	kid := t.Headers[0].KeyID
	vk, ok := s.verifyingKey(kid, now)
	if !ok {
		return nil, errInvalidToken
	}
	var c accessTokenClaims
	if err := t.Claims(vk.pub, &c); err != nil {
		return nil, errInvalidToken
	}
	if vk.retired != nil && !now.Before(vk.retired.Add(SigningKeyGrace)) {
		return nil, errInvalidToken
	}
	issuer := s.tokenIssuer()
	if c.Issuer != issuer || !c.Audience.Contains(issuer) || c.KeyHash == "" || c.Expiry == nil {
		return nil, errInvalidToken
	}
	if !now.Before(c.Expiry.Time()) {
		return nil, &Error{Code: EUNAUTHORIZED, Message: "Access token has expired"}
	}
	return &c, nil
}

// verifyingKey returns the key with kid, reading the keys from the store
// again when it is unknown, at most once a second: a rotation made by
// another process is then seen at once, and unknown kids cannot make a
// read per request.
func (s *Service) verifyingKey(kid string, now time.Time) (verifyingKey, bool) {
	s.signer.mu.RLock()
	vk, ok := s.signer.verify[kid]
	recent := now.Sub(s.signer.lastMiss) < time.Second
	s.signer.mu.RUnlock()
	if ok || recent {
		return vk, ok
	}
	s.signer.mu.Lock()
	s.signer.lastMiss = now
	s.signer.mu.Unlock()
	if err := s.loadSigningKeys(context.Background()); err != nil {
		s.log.Error("signing keys", "err", err)
		return verifyingKey{}, false
	}
	s.signer.mu.RLock()
	vk, ok = s.signer.verify[kid]
	s.signer.mu.RUnlock()
	return vk, ok
}

// tokenCache remembers verified access tokens until they expire, keyed
// by the token itself: the map's own hash of it is cheaper than the
// SHA-256 a key costs, and a hit compares the whole token, so no other
// string, whatever its signature part, can stand in for it. It is sharded
// by the token's last character (of its signature, random), so that
// readers on different cores rarely share a lock, and bounded in entries.
type tokenCache struct {
	shards   [64]tokenShard
	perShard int
}

type tokenShard struct {
	mu sync.RWMutex
	m  map[string]tokenEntry
}

type tokenEntry struct {
	keyHash string
	exp     time.Time
}

// maxCachedTokens bounds the cache: a token is about 700 bytes.
const maxCachedTokens = 1 << 16

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: max(min(size, maxCachedTokens)/64, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]tokenEntry)
	}
	return c
}

func (c *tokenCache) shard(token string) *tokenShard {
	return &c.shards[token[len(token)-1]%64]
}

func (c *tokenCache) get(token string, now time.Time) (string, bool) {
	sh := c.shard(token)
	sh.mu.RLock()
	e, ok := sh.m[token]
	sh.mu.RUnlock()
	if !ok || !now.Before(e.exp) {
		return "", false
	}
	return e.keyHash, true
}

func (c *tokenCache) put(token, keyHash string, exp, now time.Time) {
	sh := c.shard(token)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= c.perShard {
		for k, e := range sh.m {
			if !now.Before(e.exp) {
				delete(sh.m, k)
			}
		}
		for k := range sh.m { // still full: a random eviction
			if len(sh.m) < c.perShard {
				break
			}
			delete(sh.m, k)
		}
	}
	sh.m[strings.Clone(token)] = tokenEntry{keyHash: keyHash, exp: exp}
}
