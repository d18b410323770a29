package keygate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// The token exchange of workload identity federation: RFC 8693 §2 at
// POST /api/v1/oauth/token (OpenRouter's createOauthToken).

// Values of the token exchange's parameters (RFC 8693 §2.1, §3).
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	ScopeInference         = "inference"
)

// SubjectTokenSkew is the clock skew allowed between keygate and a
// subject token's issuer: a token is accepted up to this long after its
// exp, from this long before its nbf, and with an iat at most this far in
// the future.
const SubjectTokenSkew = time.Minute

// OAuthError is an error of the token endpoint in the shape of RFC 6749
// §5.2: Code is one of its error codes (invalid_request, invalid_grant,
// unsupported_grant_type, invalid_scope) or RFC 8693 §2.2.2's
// invalid_target, or temporarily_unavailable when the subject token's
// issuer cannot be reached. Description is safe to show: it never says
// which of a subject token's checks failed.
type OAuthError struct {
	Code        string
	Description string
}

func (e *OAuthError) Error() string { return "oauth: " + e.Code + ": " + e.Description }

func oauthErr(code, desc string) *OAuthError { return &OAuthError{Code: code, Description: desc} }

// errNotAccepted answers every failed check of the subject token alike
// (RFC 6749 §5.2 invalid_grant), so that a caller cannot learn which
// condition of a policy its token missed.
var errNotAccepted = oauthErr("invalid_grant", "the subject token is not accepted by the federation policy")

// errUnknownPolicy answers for a policy that does not exist, was deleted,
// or whose key can no longer spend (RFC 8693 §2.2.2 invalid_target).
var errUnknownPolicy = oauthErr("invalid_target", "federation_policy_id does not name a usable federation policy")

// ErrIssuerUnavailable is wrapped by a SubjectTokenVerifier when the
// issuer's discovery document or keys cannot be fetched: the exchange
// answers temporarily_unavailable, not invalid_grant.
var ErrIssuerUnavailable = errors.New("issuer unavailable")

// SubjectTokenVerifier checks a subject token's signature against the
// keys its issuer publishes (JWKS, looked up by kid), its algorithm
// against an allow-list, and its iss and aud claims, and returns its
// claims as JSON values (numbers as float64). The exchange checks the
// times (exp, nbf, iat) itself, on the service's clock. The idtoken
// package implements it.
type SubjectTokenVerifier interface {
	VerifySubjectToken(ctx context.Context, issuer, audience, token string) (map[string]any, error)
}

// WithSubjectTokenVerifier sets how subject tokens are verified; without
// it every exchange is refused as temporarily unavailable.
func WithSubjectTokenVerifier(v SubjectTokenVerifier) Option {
	return func(s *Service) { s.subjects = v }
}

// TokenExchangeParams are the parameters of a token exchange as sent
// (application/x-www-form-urlencoded, RFC 8693 §2.1).
type TokenExchangeParams struct {
	GrantType          string
	SubjectToken       string
	SubjectTokenType   string
	RequestedTokenType string // optional
	Scope              string // optional
	FederationPolicyID string
}

// IssuedToken is a successful exchange's answer (RFC 8693 §2.2.1).
type IssuedToken struct {
	AccessToken string
	ExpiresIn   int64 // seconds
	Scope       string
	Policy      *FederationPolicy
}

// ExchangeToken checks a subject token against the policy the request
// names and issues an access token that spends through the policy's key,
// valid for the policy's TokenTTL but never past the subject token's
// expiry. Errors are *OAuthError: invalid_request for a missing or wrong
// parameter, unsupported_grant_type, invalid_scope for a scope other than
// inference, invalid_target for an unknown policy or one whose key is
// disabled, invalid_grant for a subject token that fails any check
// (signature, algorithm, iss, aud, exp, nbf, iat, the policy's
// conditions, a jti already exchanged), temporarily_unavailable when its
// issuer cannot be reached. A subject token that carries a jti is
// exchanged once: a second exchange within its lifetime is invalid_grant.
// One without a jti may be exchanged again until it expires.
func (s *Service) ExchangeToken(ctx context.Context, p TokenExchangeParams) (*IssuedToken, error) {
	if err := checkExchangeParams(p); err != nil {
		return nil, err
	}
	pol, err := s.federationPolicy(ctx, p.FederationPolicyID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, errUnknownPolicy
	} else if err != nil {
		return nil, err
	}
	if _, err := s.activeKey(ctx, pol.KeyHash); ErrorCode(err) == EINTERNAL {
		return nil, err
	} else if err != nil {
		return nil, errUnknownPolicy
	}
	if s.subjects == nil {
		return nil, oauthErr("temporarily_unavailable", "workload identity federation is not configured")
	}
	claims, err := s.subjects.VerifySubjectToken(ctx, pol.Issuer, pol.Audience, p.SubjectToken)
	if errors.Is(err, ErrIssuerUnavailable) {
		s.log.WarnContext(ctx, "federation: issuer unavailable", "policy", pol.ID, "err", err)
		return nil, oauthErr("temporarily_unavailable", "the subject token's issuer cannot be reached; retry later")
	} else if err != nil {
		return nil, s.refuse(ctx, pol, err.Error())
	}
	now := s.Now()
	subExp, reason := checkTokenTimes(claims, now)
	if reason != "" {
		return nil, s.refuse(ctx, pol, reason)
	}
	if !pol.Admits(claims) {
		return nil, s.refuse(ctx, pol, "a condition of the policy is not met")
	}
	exp := now.Add(pol.TokenTTL)
	if subExp.Before(exp) {
		exp = subExp
	}
	expiresIn := int64(exp.Sub(now) / time.Second)
	if expiresIn < 1 {
		return nil, s.refuse(ctx, pol, "the subject token expires within a second")
	}
	exp = now.Add(time.Duration(expiresIn) * time.Second)
	if jti, ok := claims["jti"].(string); ok && jti != "" {
		err := s.store.UseSubjectToken(ctx, pol.Issuer, jti, subExp.Add(SubjectTokenSkew), now)
		if errors.Is(err, ErrConflict) {
			return nil, s.refuse(ctx, pol, "jti already exchanged")
		} else if err != nil {
			return nil, fmt.Errorf("record subject token: %w", err)
		}
	}
	tok, err := s.signAccessToken(ctx, pol, now, exp)
	if err != nil {
		return nil, err
	}
	sub, _ := claims["sub"].(string)
	s.audit(ctx, AuditEvent{Action: AuditTokenExchanged, ActorUserID: pol.UserID, KeyHashPrefix: hashPrefix(pol.KeyHash),
		Detail: "policy " + pol.ID + " sub " + truncate(sub, 200)})
	return &IssuedToken{AccessToken: tok, ExpiresIn: expiresIn, Scope: ScopeInference, Policy: pol}, nil
}

// refuse audits why a subject token was refused (never the token) and
// returns the one answer every refusal gets.
func (s *Service) refuse(ctx context.Context, pol *FederationPolicy, reason string) error {
	s.audit(ctx, AuditEvent{Action: AuditTokenRefused, ActorUserID: pol.UserID, KeyHashPrefix: hashPrefix(pol.KeyHash),
		Detail: "policy " + pol.ID + ": " + truncate(reason, 300)})
	return errNotAccepted
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkExchangeParams checks the request's parameters (RFC 8693 §2.1).
func checkExchangeParams(p TokenExchangeParams) error {
	switch {
	case p.GrantType == "":
		return oauthErr("invalid_request", "grant_type is required")
	case p.GrantType != GrantTypeTokenExchange:
		return oauthErr("unsupported_grant_type", "grant_type must be "+GrantTypeTokenExchange)
	case p.SubjectToken == "":
		return oauthErr("invalid_request", "subject_token is required")
	case len(p.SubjectToken) > maxSubjectTokenLen:
		return oauthErr("invalid_request", "subject_token is longer than 16384 bytes")
	case p.SubjectTokenType != TokenTypeJWT:
		return oauthErr("invalid_request", "subject_token_type must be "+TokenTypeJWT)
	case p.RequestedTokenType != "" && p.RequestedTokenType != TokenTypeAccessToken:
		return oauthErr("invalid_request", "requested_token_type must be "+TokenTypeAccessToken)
	case p.Scope != "" && p.Scope != ScopeInference:
		return oauthErr("invalid_scope", "scope must be inference")
	case p.FederationPolicyID == "":
		return oauthErr("invalid_request", "federation_policy_id is required")
	}
	return nil
}

const maxSubjectTokenLen = 16384

// checkTokenTimes checks a subject token's exp (required), nbf and iat
// (RFC 7519 §4.1.4-6) against now with SubjectTokenSkew, and returns its
// expiry, or why it is refused.
func checkTokenTimes(claims map[string]any, now time.Time) (exp time.Time, reason string) {
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return time.Time{}, "exp missing or not a number"
	}
	if !now.Before(exp.Add(SubjectTokenSkew)) {
		return time.Time{}, "expired"
	}
	if v, present := claims["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok || now.Add(SubjectTokenSkew).Before(nbf) {
			return time.Time{}, "not yet valid (nbf)"
		}
	}
	if v, present := claims["iat"]; present {
		iat, ok := numericDate(v)
		if !ok || now.Add(SubjectTokenSkew).Before(iat) {
			return time.Time{}, "issued in the future (iat)"
		}
	}
	return exp, ""
}

// numericDate reads a JWT NumericDate (RFC 7519 §2): seconds since the
// epoch, possibly fractional.
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
