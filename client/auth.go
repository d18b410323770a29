package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keygate/keygate/apitype"
)

// CreateAuthCode asks for a one-time authorization code with the client's
// key (POST /auth/keys/code, OpenRouter createAuthKeysCode). The code is
// the returned ID; it is valid 10 minutes by default and is exchanged with
// ExchangeAuthCodeForAPIKey. Only req.CallbackURL is required; Limit is in
// USD. The call is never retried: a retry could mint a second code.
//
// Errors: ErrBadRequest naming the field, ErrUnauthorized for a missing or
// bad key.
func (c *Client) CreateAuthCode(ctx context.Context, req *apitype.CreateAuthKeysCodeRequest) (*apitype.AuthCode, error) {
	var res apitype.CreateAuthKeysCodeResponse
	if err := c.call(ctx, http.MethodPost, "/auth/keys/code", nil, req, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// ExchangeAuthCodeForAPIKey trades an authorization code, and the code
// verifier when the code was made with a challenge, for an API key (POST
// /auth/keys, OpenRouter exchangeAuthCodeForAPIKey). No API key is needed.
// A code is single use, so the call is never retried: keygate treats a
// second exchange of a code as a replay and disables the key it issued.
//
// Errors: ErrBadRequest ("Invalid code_challenge_method"), ErrForbidden
// ("Invalid code or code_verifier", "Authorization code expired").
func (c *Client) ExchangeAuthCodeForAPIKey(ctx context.Context, req *apitype.ExchangeAuthCodeRequest) (*apitype.ExchangeAuthCodeResponse, error) {
	var res apitype.ExchangeAuthCodeResponse
	if err := c.call(ctx, http.MethodPost, "/auth/keys", nil, req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// GetCurrentKey describes the client's own key (GET /key, OpenRouter
// getCurrentKey): label, limit and limit_remaining in USD, usage, expiry.
// A key past its limit still answers. Errors: ErrUnauthorized for a missing,
// unknown, disabled or expired key.
func (c *Client) GetCurrentKey(ctx context.Context) (*apitype.CurrentKey, error) {
	var res apitype.CurrentKeyResponse
	if err := c.call(ctx, http.MethodGet, "/key", nil, nil, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// AuthorizationURLParams are the query parameters of the browser flow's
// /auth page. Zero values are left out.
type AuthorizationURLParams struct {
	// CallbackURL receives the code (?code=…, or ?error=access_denied when
	// the user declines). Its own query is kept. keygate allows it empty
	// (headless mode: the code is shown for the user to paste) when a
	// CodeChallenge is given.
	CallbackURL         string
	CodeChallenge       string
	CodeChallengeMethod string   // "S256" or "plain"; without one a challenge is plain (RFC 7636 §4.3)
	Limit               *float64 // USD; nil for no limit, 0 is a real cap
	KeyLabel            string
	ExpiresAt           time.Time // zero for a key that does not expire
	UsageLimitType      string    // "daily", "weekly" or "monthly": when the limit resets
	WorkspaceID         string
	// State is echoed on the redirect to the callback (RFC 6749 §4.1.2).
	State string
}

// CreateAuthorizationURL returns the URL of the consent page to send a
// user's browser to: /auth at the origin of the base URL, as the official
// SDK's oAuth.createAuthorizationUrl builds it (new URL('/auth',
// serverURL)). It makes no request and checks only that there is a
// callback URL or a challenge; the server validates the rest when the page
// is opened.
func (c *Client) CreateAuthorizationURL(p AuthorizationURLParams) (string, error) {
	if c.baseErr != nil {
		return "", c.baseErr
	}
	if p.CallbackURL == "" && p.CodeChallenge == "" {
		return "", errors.New("client: authorization URL: want a CallbackURL, or a CodeChallenge for headless mode")
	}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("callback_url", p.CallbackURL)
	set("code_challenge", p.CodeChallenge)
	set("code_challenge_method", p.CodeChallengeMethod)
	if p.Limit != nil {
		set("limit", strconv.FormatFloat(*p.Limit, 'f', -1, 64))
	}
	set("key_label", p.KeyLabel)
	if !p.ExpiresAt.IsZero() {
		set("expires_at", p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	set("usage_limit_type", p.UsageLimitType)
	set("workspace_id", p.WorkspaceID)
	set("state", p.State)
	u := url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: "/auth", RawQuery: q.Encode()}
	return u.String(), nil
}
