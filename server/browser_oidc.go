package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// Sign-in through an upstream OpenID Connect provider (OpenID Connect
// Core 1.0 §3.1, the authorization code flow), with PKCE (RFC 7636, S256),
// state (RFC 6749 §10.12) and nonce (Core §3.1.2.1) all bound to the
// browser by a short-lived cookie. The service decides which account the
// verified identity signs in to (Service.UpstreamLogin).

// OIDCProvider is an upstream provider people may sign in with.
type OIDCProvider struct {
	Name         string // shown as "Sign in with <Name>"
	Issuer       string // its issuer URL; discovery is fetched at the first sign-in
	ClientID     string
	ClientSecret string
	// Accounts says what an identity no account is linked to may do.
	Accounts keygate.UpstreamAccounts
}

const (
	// oidcCookie carries the state, nonce, PKCE verifier, provider and
	// return_to of one sign-in, from the redirect to the provider to the
	// callback. SameSite=Lax: the callback is a top-level GET from the
	// provider's site.
	oidcCookie     = "keygate_oidc"
	oidcCookiePath = "/login/oidc/"
	oidcCookieTTL  = 10 * time.Minute
	oidcCallback   = "/login/oidc/callback"
)

// oidcLogin holds the configured providers, each discovered once.
type oidcLogin struct {
	providers []*upstream
	redirect  string // the callback URL registered at every provider
	client    *http.Client
}

type upstream struct {
	OIDCProvider
	mu       sync.Mutex
	provider *oidc.Provider // nil until discovered
}

func newOIDCLogin(cfg Config) *oidcLogin {
	l := &oidcLogin{redirect: cfg.PublicURL + oidcCallback, client: &http.Client{Timeout: 10 * time.Second}}
	for _, p := range cfg.OIDC {
		l.providers = append(l.providers, &upstream{OIDCProvider: p})
	}
	return l
}

// discover returns p's provider, fetching its discovery document the
// first time (again after a failure).
func (l *oidcLogin) discover(ctx context.Context, p *upstream) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	op, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), l.client), p.Issuer)
	if err != nil {
		return nil, &keygate.Error{Code: keygate.EUNAVAILABLE, Message: p.Name + " cannot be reached to sign you in. Try again in a moment."}
	}
	p.provider = op
	return op, nil
}

func (l *oidcLogin) oauth2Config(p *upstream, op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: l.redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// loginProviders lists the providers for the sign-in page, each link
// coming back to returnTo.
func (l *oidcLogin) loginProviders(returnTo string) []web.LoginProvider {
	var out []web.LoginProvider
	for i, p := range l.providers {
		u := "/login/oidc/" + strconv.Itoa(i)
		if returnTo != "" {
			u += "?return_to=" + url.QueryEscape(returnTo)
		}
		out = append(out, web.LoginProvider{Name: p.Name, URL: u})
	}
	return out
}

// oidcStart serves GET /login/oidc/{n}: it binds a new state, nonce and
// PKCE verifier to the browser and sends it to provider n.
func (b *browser) oidcStart(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(b.oidc.providers) {
		return errNotFound
	}
	p := b.oidc.providers[n]
	op, err := b.oidc.discover(r.Context(), p)
	if err != nil {
		return err
	}
	state, nonce, verifier := keygate.NewToken(), keygate.NewToken(), oauth2.GenerateVerifier()
	returnTo := localReturn(r.URL.Query().Get("return_to"))
	value := strings.Join([]string{state, nonce, verifier, strconv.Itoa(n), base64.RawURLEncoding.EncodeToString([]byte(returnTo))}, ".")
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: value, Path: oidcCookiePath, MaxAge: int(oidcCookieTTL / time.Second),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode})
	to := b.oidc.oauth2Config(p, op).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
	return nil
}

var errOIDCExpired = keygate.Errorf(keygate.EFORBIDDEN, "This sign-in expired or did not start in this browser. Go back and sign in again.")

// oidcCallback serves GET /login/oidc/callback: it checks state against
// the cookie, exchanges the code with the verifier, verifies the ID token
// (signature, issuer, audience, expiry) and its nonce, and signs the
// identity in.
func (b *browser) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	c, ok := oneCookie(r, oidcCookie)
	if !ok {
		return errOIDCExpired
	}
	// Single use: whatever happens next, this flow is over.
	b.clearCookie(w, oidcCookie, oidcCookiePath)
	parts := strings.Split(c, ".")
	if len(parts) != 5 {
		return errOIDCExpired
	}
	state, nonce, verifier := parts[0], parts[1], parts[2]
	n, err := strconv.Atoi(parts[3])
	rt, err2 := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil || err2 != nil || n < 0 || n >= len(b.oidc.providers) {
		return errOIDCExpired
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return errOIDCExpired
	}
	p := b.oidc.providers[n]
	if q.Get("error") != "" {
		return keygate.Errorf(keygate.EFORBIDDEN, "%s did not sign you in.", p.Name)
	}
	op, err := b.oidc.discover(r.Context(), p)
	if err != nil {
		return err
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, b.oidc.client)
	tok, err := b.oidc.oauth2Config(p, op).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		b.log.WarnContext(r.Context(), "oidc: code exchange refused", "provider", p.Name, "err", err)
		return keygate.Errorf(keygate.EFORBIDDEN, "%s did not accept this sign-in. Go back and sign in again.", p.Name)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := op.Verifier(&oidc.Config{ClientID: p.ClientID}).Verify(oidc.ClientContext(r.Context(), b.oidc.client), raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		if err == nil {
			err = errors.New("nonce mismatch")
		}
		b.log.WarnContext(r.Context(), "oidc: ID token refused", "provider", p.Name, "err", err)
		return keygate.Errorf(keygate.EFORBIDDEN, "The identity %s sent could not be verified. Go back and sign in again.", p.Name)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // a boolean; some providers send "true"
	}
	if err := idt.Claims(&claims); err != nil {
		return keygate.Errorf(keygate.EFORBIDDEN, "The identity %s sent could not be read.", p.Name)
	}
	verified := claims.EmailVerified == true || claims.EmailVerified == "true"
	session, err := b.svc.UpstreamLogin(r.Context(),
		keygate.UpstreamIdentity{Issuer: idt.Issuer, Subject: idt.Subject, Email: claims.Email, EmailVerified: verified}, p.Accounts)
	if err != nil {
		return err
	}
	if old, ok := oneCookie(r, sessionCookie); ok {
		if err := b.svc.Logout(r.Context(), old); err != nil {
			b.log.WarnContext(r.Context(), "end previous session", "err", err)
		}
	}
	b.setSessionCookie(w, session)
	returnTo := localReturn(string(rt))
	if returnTo == "" {
		returnTo = "/login"
	}
	seeOther(w, returnTo)
	return nil
}
