package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// Workload identity federation over HTTP: the token exchange (RFC 8693
// §2, OpenRouter's createOauthToken), the JWKS of keygate's access tokens
// (listOauthJwks), and the management API of federation policies.

// oauthToken serves POST /api/v1/oauth/token. Every error, the request's
// own included, answers in the shape of RFC 6749 §5.2 (oauthErrors).
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxExchangeBody)
	b, kind, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var body apitype.TokenExchangeRequest
	if kind == bodyForm {
		v, err := formValues(b)
		if err != nil {
			return err
		}
		body = apitype.TokenExchangeRequest{GrantType: v.Get("grant_type"), SubjectToken: v.Get("subject_token"),
			SubjectTokenType: v.Get("subject_token_type"), RequestedTokenType: v.Get("requested_token_type"),
			Scope: v.Get("scope"), FederationPolicyID: v.Get("federation_policy_id")}
	} else if err := decodeJSON(b, &body); err != nil {
		return err
	}
	tok, err := s.svc.ExchangeToken(r.Context(), keygate.TokenExchangeParams{
		GrantType: body.GrantType, SubjectToken: body.SubjectToken, SubjectTokenType: body.SubjectTokenType,
		RequestedTokenType: body.RequestedTokenType, Scope: body.Scope, FederationPolicyID: body.FederationPolicyID,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Pragma", "no-cache") // RFC 6749 §5.1
	writeJSON(w, http.StatusOK, apitype.TokenExchangeResponse{AccessToken: tok.AccessToken, ExpiresIn: tok.ExpiresIn,
		IssuedTokenType: keygate.TokenTypeAccessToken, Scope: tok.Scope, TokenType: "Bearer"})
	return nil
}

// oauthErrors writes h's errors as RFC 6749 §5.2 bodies: an OAuthError
// with its code (400, or 503 for temporarily_unavailable), a rate limit
// as temporarily_unavailable with its 429, any other client error as
// invalid_request with its status, and an unexpected error as a 500
// server_error whose cause is only logged.
func (s *Server) oauthErrors(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err == nil {
			return nil
		}
		var body apitype.OAuthErrorResponse
		status := http.StatusBadRequest
		if oe, ok := errors.AsType[*keygate.OAuthError](err); ok {
			body = apitype.OAuthErrorResponse{Error: oe.Code, ErrorDescription: oe.Description}
			if oe.Code == "temporarily_unavailable" {
				status = http.StatusServiceUnavailable
			}
			logError(s.log, r, keygate.Errorf(keygate.EINVALID, "%s", oe.Description))
		} else {
			status = logError(s.log, r, err)
			setRetryAfter(w, err)
			code := "invalid_request"
			switch {
			case status == http.StatusTooManyRequests:
				code = "temporarily_unavailable"
			case status >= 500:
				code = "server_error"
				if status == http.StatusServiceUnavailable {
					code = "temporarily_unavailable"
				}
			}
			body = apitype.OAuthErrorResponse{Error: code, ErrorDescription: keygate.ErrorMessage(err)}
		}
		writeJSON(w, status, body)
		return nil
	}
}

// oauthJWKS serves GET /api/v1/oauth/jwks: the public keys that verify
// keygate's access tokens, the current one first.
func (s *Server) oauthJWKS(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.svc.SigningKeys(r.Context())
	if err != nil {
		return err
	}
	set := apitype.JWKS{Keys: make([]apitype.JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, apitype.JWK{Alg: "ES256", Crv: "P-256", Kid: k.ID, Kty: "EC", Use: "sig", X: k.X, Y: k.Y})
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// listFederationPolicies serves GET /api/v1/federation/policies: the
// management key's user's policies, oldest first.
func (s *Server) listFederationPolicies(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	pols, err := s.svc.FederationPolicies(r.Context(), key.UserID)
	if err != nil {
		return err
	}
	data := make([]apitype.FederationPolicy, 0, len(pols))
	for _, p := range pols {
		body, err := s.policyBody(r, p)
		if err != nil {
			return err
		}
		data = append(data, body)
	}
	writeJSON(w, http.StatusOK, apitype.ListFederationPoliciesResponse{Data: data})
	return nil
}

// createFederationPolicy serves POST /api/v1/federation/policies.
func (s *Server) createFederationPolicy(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.CreateFederationPolicyRequest](w, r)
	if err != nil {
		return err
	}
	p := keygate.NewFederationPolicyParams{UserID: key.UserID, WorkspaceID: body.WorkspaceID, Issuer: body.Issuer,
		Audience: body.Audience, Subject: body.Subject, Claims: body.Claims, LimitUSD: body.Limit}
	if body.TokenTTL != nil {
		if *body.TokenTTL < 60 || *body.TokenTTL > 900 {
			return keygate.Errorf(keygate.EINVALID, "token_ttl must be whole seconds from 60 to 900")
		}
		p.TokenTTL = time.Duration(*body.TokenTTL) * time.Second
	}
	if body.LimitReset != nil {
		p.LimitReset = *body.LimitReset
	}
	pol, err := s.svc.CreateFederationPolicy(r.Context(), p)
	if err != nil {
		return err
	}
	out, err := s.policyBody(r, pol)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.FederationPolicyResponse{Data: out})
	return nil
}

// getFederationPolicy serves GET /api/v1/federation/policies/{id}.
func (s *Server) getFederationPolicy(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	pol, err := s.svc.FederationPolicy(r.Context(), key.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := s.policyBody(r, pol)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.FederationPolicyResponse{Data: out})
	return nil
}

// deleteFederationPolicy serves DELETE /api/v1/federation/policies/{id}:
// the access tokens issued under it stop working at once.
func (s *Server) deleteFederationPolicy(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteFederationPolicy(r.Context(), key.UserID, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
	return nil
}

func (s *Server) policyBody(r *http.Request, p *keygate.FederationPolicy) (apitype.FederationPolicy, error) {
	info, err := s.svc.FederationPolicyKey(r.Context(), p)
	if err != nil {
		return apitype.FederationPolicy{}, err
	}
	var subject *string
	if p.Subject != "" {
		subject = &p.Subject
	}
	return apitype.FederationPolicy{ID: p.ID, WorkspaceID: p.WorkspaceID, Issuer: p.Issuer, Audience: p.Audience,
		Subject: subject, Claims: p.Claims, TokenTTL: int64(p.TokenTTL / time.Second), KeyHash: p.KeyHash,
		KeySpending: spendingBody(info), CreatedAt: formatTime(p.CreatedAt)}, nil
}

func (s *Server) routeFederation() {
	s.apiRoute("/api/v1/oauth/token", "POST", s.oauthErrors(s.limited(s.limiter, s.oauthToken)))
	s.apiRoute("/api/v1/oauth/jwks", "GET", s.oauthJWKS)
	s.apiMethods("/api/v1/federation/policies", map[string]apiHandler{"GET": s.listFederationPolicies, "POST": s.createFederationPolicy})
	s.apiMethods("/api/v1/federation/policies/{id}", map[string]apiHandler{"GET": s.getFederationPolicy, "DELETE": s.deleteFederationPolicy})
}
