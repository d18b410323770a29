package idptest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"time"
)

// The provider's side of the authorization code flow (OpenID Connect Core
// 1.0 §3.1) for tests of sign-in through it: a login page at /authorize
// where a person types their user name, codes bound to the client, the
// redirect URI, the PKCE challenge (RFC 7636, S256) and the nonce, and a
// token endpoint that answers with a signed ID token.

// User is a person who can sign in at the provider.
type User struct {
	Name          string // what is typed on the login page
	Subject       string
	Email         string
	EmailVerified bool
}

type client struct{ secret string }

type grant struct {
	user                             User
	clientID, redirectURI, challenge string
	nonce                            string
	expires                          time.Time
}

// AddClient registers a relying party.
func (p *Provider) AddClient(id, secret string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[id] = client{secret: secret}
}

// AddUser lets u sign in.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Name] = u
}

// SetNonce makes the ID tokens carry nonce instead of the one the request
// asked for ("" restores the request's): a provider, or an attacker
// replaying another flow's token, that a relying party must refuse.
func (p *Provider) SetNonce(nonce string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonce = nonce
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider: sign in</title></head>
<body><main><h1>Test provider</h1>
<form method="post" action="/authorize">
{{range $k, $v := .}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<label for="username">User name</label>
<input id="username" name="username" autocomplete="username">
<button type="submit" id="idp-sign-in">Sign in</button>
</form></main></body></html>`))

func (p *Provider) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "response_type=code and an S256 code_challenge are required", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	loginPage.Execute(w, q)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	p.mu.Lock()
	u, ok := p.users[f.Get("username")]
	_, known := p.clients[f.Get("client_id")]
	p.mu.Unlock()
	if !ok || !known {
		http.Error(w, "unknown user or client", http.StatusForbidden)
		return
	}
	code := randomID()
	p.mu.Lock()
	p.grants[code] = grant{user: u, clientID: f.Get("client_id"), redirectURI: f.Get("redirect_uri"),
		challenge: f.Get("code_challenge"), nonce: f.Get("nonce"), expires: time.Now().Add(time.Minute)}
	p.mu.Unlock()
	back, err := url.Parse(f.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := back.Query()
	q.Set("code", code)
	q.Set("state", f.Get("state"))
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	p.mu.Lock()
	c, known := p.clients[id]
	g, found := p.grants[f.Get("code")]
	delete(p.grants, f.Get("code"))
	forced := p.nonce
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case !known || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1:
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	case f.Get("grant_type") != "authorization_code" || !found || g.clientID != id || g.redirectURI != f.Get("redirect_uri") ||
		time.Now().After(g.expires) || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	nonce := g.nonce
	if forced != "" {
		nonce = forced
	}
	now := time.Now()
	idToken := p.Sign(map[string]any{
		"iss": p.URL, "aud": id, "sub": g.user.Subject, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": nonce, "email": g.user.Email, "email_verified": g.user.EmailVerified,
	})
	writeJSON(w, map[string]any{"access_token": randomID(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}
