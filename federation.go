package keygate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Workload identity federation: a platform's signed identity token (a
// GitHub Actions or GitLab CI job's OIDC token, a Kubernetes service
// account token) is exchanged for a short-lived keygate access token
// (RFC 8693) under a federation policy, which says which issuer, audience,
// subject and claims it trusts. The access token spends through the key
// the policy targets (exchange.go of federation: tokenexchange.go).

// FederationPolicy trusts the identity tokens of one issuer that carry
// one audience and meet its conditions. It targets one key, created with
// the policy and holding its spending limit: what every access token
// issued under the policy spends, and what GET /api/v1/key reports for
// such a token.
type FederationPolicy struct {
	ID          string // UUID
	UserID      string
	WorkspaceID string
	KeyHash     string // the key the policy's access tokens spend through
	// Issuer is the trusted issuer URL, exactly as the tokens' iss claim
	// says it; its discovery document is at
	// Issuer + "/.well-known/openid-configuration" (OpenID Connect
	// Discovery 1.0 §4).
	Issuer   string
	Audience string // the aud the subject token must carry
	// Subject is a pattern the sub claim must match; "" matches any
	// (then Claims holds at least one condition).
	Subject string
	// Claims maps a claim name to the pattern its value must match. A
	// name may go down into objects with "/" ("kubernetes.io/namespace").
	Claims   map[string]string
	TokenTTL time.Duration // lifetime of issued access tokens, 1 to 15 minutes
	// CreatedAt is when the policy was made; Limit and LimitReset live
	// on its key.
	CreatedAt time.Time
}

// Rules of federation policies.
const (
	// MaxAccessTokenTTL bounds the lifetime of an issued access token
	// (OpenRouter's createOauthToken: at most 15 minutes).
	MaxAccessTokenTTL = 15 * time.Minute
	// MinAccessTokenTTL is the shortest lifetime a policy may set.
	MinAccessTokenTTL  = time.Minute
	maxClaimConditions = 32
	maxPatternLen      = 512 // characters
	maxIssuerLen       = 2048
	maxAudienceLen     = 512 // characters
)

// claims that the exchange checks by itself; a condition on them would
// either repeat or contradict that check.
var checkedClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti"}

// NewFederationPolicyParams describes a policy to create.
type NewFederationPolicyParams struct {
	UserID      string
	WorkspaceID *string // a UUID of one of the user's workspaces; nil for the default
	Issuer      string
	Audience    string
	Subject     string
	Claims      map[string]string
	TokenTTL    time.Duration // 0 is MaxAccessTokenTTL
	LimitUSD    *float64      // nil: no limit
	LimitReset  string        // "", daily, weekly or monthly
}

// CreateFederationPolicy creates a policy and the key it targets, named
// "federation <policy id>", whose secret is never shown to anybody: only
// access tokens issued under the policy spend through it. Errors are
// EINVALID naming the field: issuer (an absolute https URL, or http on a
// loopback host, without query or fragment), audience (required), subject
// and claims (patterns; at least one condition: a policy trusting every
// token of an issuer such as GitHub's would trust every repository on
// it), token_ttl (1 to 15 minutes), limit, limit_reset, workspace_id.
func (s *Service) CreateFederationPolicy(ctx context.Context, p NewFederationPolicyParams) (*FederationPolicy, error) {
	if err := checkIssuerURL("issuer", p.Issuer); err != nil {
		return nil, err
	}
	if p.Audience == "" {
		return nil, Errorf(EINVALID, "audience is required")
	}
	if err := CheckText("audience", p.Audience, maxAudienceLen); err != nil {
		return nil, err
	}
	if err := checkPattern("subject", p.Subject); err != nil {
		return nil, err
	}
	if len(p.Claims) > maxClaimConditions {
		return nil, Errorf(EINVALID, "claims holds at most %d conditions", maxClaimConditions)
	}
	for name, pattern := range p.Claims {
		if err := checkClaimName(name); err != nil {
			return nil, err
		}
		if pattern == "" {
			return nil, Errorf(EINVALID, "claims: the pattern of %q is empty", name)
		}
		if err := checkPattern("claims", pattern); err != nil {
			return nil, err
		}
	}
	if p.Subject == "" && len(p.Claims) == 0 {
		return nil, Errorf(EINVALID, "subject or claims: a policy needs at least one condition on the token's claims")
	}
	ttl := p.TokenTTL
	if ttl == 0 {
		ttl = MaxAccessTokenTTL
	}
	if ttl < MinAccessTokenTTL || ttl > MaxAccessTokenTTL || ttl%time.Second != 0 {
		return nil, Errorf(EINVALID, "token_ttl must be whole seconds from 60 to 900")
	}
	k := &APIKey{UserID: p.UserID, CreatorUserID: p.UserID}
	if p.LimitUSD != nil {
		m, err := MicrosFromUSD("limit", *p.LimitUSD)
		if err != nil {
			return nil, err
		}
		k.Limit = &m
	}
	reset, err := ParseLimitReset("limit_reset", p.LimitReset)
	if err != nil {
		return nil, err
	}
	k.LimitReset = reset
	ws, err := s.resolveWorkspace(ctx, p.UserID, p.WorkspaceID, "workspace_id")
	if err != nil {
		return nil, err
	}
	now := s.Now()
	pol := &FederationPolicy{ID: uuid.NewString(), UserID: p.UserID, WorkspaceID: ws.ID, Issuer: p.Issuer,
		Audience: p.Audience, Subject: p.Subject, Claims: p.Claims, TokenTTL: ttl, CreatedAt: now}
	if pol.Claims == nil {
		pol.Claims = map[string]string{}
	}
	k.WorkspaceID = ws.ID
	k.Name = "federation " + pol.ID
	secret := NewKey(s.cfg.KeyPrefix) // discarded: the key is reached only through the policy
	k.Hash = HashSecret(secret)
	k.Label = labelOf("", secret)
	k.CreatedAt = now
	pol.KeyHash = k.Hash
	if err := s.store.CreateFederationPolicy(ctx, pol, k); errors.Is(err, ErrNotFound) {
		return nil, errNotYourWorkspace("workspace_id")
	} else if err != nil {
		return nil, fmt.Errorf("create federation policy: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditFederationPolicyCreated, ActorUserID: p.UserID, KeyHashPrefix: hashPrefix(k.Hash), Detail: pol.ID})
	return pol, nil
}

// Audit actions of workload identity federation.
const (
	AuditFederationPolicyCreated = "federation.policy_created"
	AuditFederationPolicyDeleted = "federation.policy_deleted"
	AuditTokenExchanged          = "federation.token_exchanged"
	AuditTokenRefused            = "federation.token_refused"
	AuditSigningKeyRotated       = "federation.signing_key_rotated"
)

// FederationPolicies returns the user's policies, oldest first; every
// user's for userID "" (the operator, on the command line).
func (s *Service) FederationPolicies(ctx context.Context, userID string) ([]*FederationPolicy, error) {
	ps, err := s.store.ListFederationPolicies(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list federation policies: %w", err)
	}
	return ps, nil
}

// FederationPolicy returns the user's policy with id. ENOTFOUND for a
// malformed id, a missing policy and another user's alike. userID ""
// is the operator, who may see any user's.
func (s *Service) FederationPolicy(ctx context.Context, userID, id string) (*FederationPolicy, error) {
	p, err := s.federationPolicy(ctx, id)
	if err != nil {
		return nil, err
	}
	if userID != "" && p.UserID != userID {
		return nil, errNoPolicy
	}
	return p, nil
}

var errNoPolicy = &Error{Code: ENOTFOUND, Message: "federation policy not found"}

func (s *Service) federationPolicy(ctx context.Context, id string) (*FederationPolicy, error) {
	if uuid.Validate(id) != nil {
		return nil, errNoPolicy
	}
	p, err := s.store.FederationPolicy(ctx, strings.ToLower(id))
	if errors.Is(err, ErrNotFound) {
		return nil, errNoPolicy
	} else if err != nil {
		return nil, fmt.Errorf("federation policy: %w", err)
	}
	return p, nil
}

// DeleteFederationPolicy deletes the user's policy with id (ENOTFOUND
// otherwise; userID "" is the operator, who may delete any). Its key is disabled first, so that the access tokens issued
// under it stop working at once, on every replica; the key and its usage
// are kept for the record.
func (s *Service) DeleteFederationPolicy(ctx context.Context, userID, id string) error {
	p, err := s.FederationPolicy(ctx, userID, id)
	if err != nil {
		return err
	}
	if _, err := s.setDisabled(ctx, p.KeyHash, true); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("disable federation key: %w", err)
	}
	if err := s.store.DeleteFederationPolicy(ctx, p.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete federation policy: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditFederationPolicyDeleted, ActorUserID: p.UserID, KeyHashPrefix: hashPrefix(p.KeyHash), Detail: p.ID})
	return nil
}

// checkIssuerURL accepts an absolute https URL, or an http one on a
// loopback host (an issuer running beside keygate, or in tests), without
// user-info, query or fragment: OpenID Connect Discovery 1.0 §4 builds
// the discovery URL by appending to it.
func checkIssuerURL(field, s string) error {
	bad := Errorf(EINVALID, "%s must be an https URL (http only on a loopback host) without query or fragment", field)
	if s == "" || len(s) > maxIssuerLen || CheckText(field, s, maxIssuerLen) != nil {
		return bad
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, " \t\r\n?#") {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return bad
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func checkClaimName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return Errorf(EINVALID, "claims: a claim name is 1 to 256 characters, not starting or ending with /")
	}
	if err := CheckText("claims: a claim name", name, 256); err != nil {
		return err
	}
	if slices.Contains(checkedClaims, name) || name == "sub" {
		return Errorf(EINVALID, "claims: %q is checked by the exchange itself (use subject for sub)", name)
	}
	return nil
}

// checkPattern holds a pattern to the text rule (text.go): it is shown
// back by the API and the command line.
func checkPattern(field, p string) error {
	return CheckText(field, p, maxPatternLen)
}

// MatchPattern reports whether s matches pattern, in which "*" stands for
// any run of characters ("/" and ":" included, so "repo:octo-org/*"
// matches every repository of octo-org) and every other character for
// itself. A pattern without "*" is an exact comparison.
func MatchPattern(pattern, s string) bool {
	// The classic linear-time wildcard match: on a mismatch, go back to
	// just after the last star and let it swallow one more character.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// claimValues returns the values of the claim name in claims, following
// "/" into objects: a string as it is, a number or boolean as its JSON
// text, every string, number and boolean of an array. An absent claim,
// or one that is an object, has none.
func claimValues(claims map[string]any, name string) []string {
	var v any = claims
	if c, ok := claims[name]; ok {
		v = c
	} else {
		for part := range strings.SplitSeq(name, "/") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			if v, ok = m[part]; !ok {
				return nil
			}
		}
	}
	if arr, ok := v.([]any); ok {
		var out []string
		for _, e := range arr {
			out = append(out, scalarText(e)...)
		}
		return out
	}
	return scalarText(v)
}

func scalarText(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case bool:
		return []string{fmt.Sprint(x)}
	case float64:
		return []string{fmt.Sprint(x)}
	case fmt.Stringer: // json.Number
		return []string{x.String()}
	}
	return nil
}

// Admits reports whether claims meet p's conditions on sub and on other
// claims: each condition must match at least one value of its claim.
func (p *FederationPolicy) Admits(claims map[string]any) bool {
	if p.Subject != "" {
		sub, _ := claims["sub"].(string)
		if !MatchPattern(p.Subject, sub) {
			return false
		}
	}
	for name, pattern := range p.Claims {
		if !slices.ContainsFunc(claimValues(claims, name), func(v string) bool { return MatchPattern(pattern, v) }) {
			return false
		}
	}
	return true
}

// FederationPolicyKey returns the key p targets, with its usage and
// remaining limit: what the policy has spent.
func (s *Service) FederationPolicyKey(ctx context.Context, p *FederationPolicy) (*KeyInfo, error) {
	k, err := s.store.Key(ctx, p.KeyHash)
	if err != nil {
		return nil, fmt.Errorf("federation policy key: %w", err)
	}
	return s.KeyInfo(ctx, k)
}

// errTokenScope refuses an access token of the token exchange where it
// has no business: its scope is inference (OpenRouter's createOauthToken),
// so it calls models and reads its own limit, and mints nothing.
var errTokenScope = &Error{Code: EFORBIDDEN,
	Message: "An access token of the token exchange may only call models (scope inference): it cannot create authorization codes"}

// refuseFederationKey returns errTokenScope when k is a federation
// policy's key. Nobody holds such a key's secret, so k stands for an
// access token: a code it made would mint a key outliving the token and
// its policy's conditions.
//
// The answer is remembered per key (federationKeysSize): a policy's key is
// made with the policy, in its transaction, so a key that is not one now
// never becomes one, and one that is stays refused after its policy is
// deleted (nobody holds its secret either way).
func (s *Service) refuseFederationKey(ctx context.Context, k *APIKey) error {
	federated, ok := s.federationKeys.get(k.Hash)
	if !ok {
		ps, err := s.store.ListFederationPolicies(ctx, k.UserID)
		if err != nil {
			return fmt.Errorf("federation policies: %w", err)
		}
		for _, p := range ps {
			s.federationKeys.put(p.KeyHash, true)
			federated = federated || p.KeyHash == k.Hash
		}
		s.federationKeys.put(k.Hash, federated)
	}
	if federated {
		return errTokenScope
	}
	return nil
}

// federationKeysSize bounds the keys refuseFederationKey remembers.
const federationKeysSize = 100_000
