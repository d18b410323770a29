package server

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// Browser routes: the sign-in and consent pages of the browser flow
// (docs/architecture.md, "A sign-in"). They live on their own mux, behind
// http.CrossOriginProtection and strict headers, apart from the JSON API.

const (
	// sessionCookie holds the session token. HttpOnly, SameSite=Lax (a
	// top-level GET /auth from an app's site must carry it), Path=/, Secure
	// when the public URL is https.
	sessionCookie = "keygate_session"
	// loginCookie holds the pre-session form token of the sign-in form
	// (double-submit: the form must carry the same value).
	loginCookie    = "keygate_login"
	loginCookieTTL = 2 * time.Hour
	// maxFormBytes caps the body of every browser form.
	maxFormBytes = 64 << 10
	// maxEmailEcho bounds the email the sign-in form shows back, in
	// characters: no address is longer (RFC 5321 §4.5.3.1, 254 octets).
	maxEmailEcho = 254
	// maxReturnTo bounds return_to: an /auth query with a 2,048-byte
	// callback_url and every other parameter fits many times over.
	maxReturnTo = 16 << 10
)

// pageCSP is the Content-Security-Policy of every browser page: no inline
// script or style, nothing from another origin, no framing (the Approve
// button cannot be clickjacked). The consent page widens form-action to
// the callback's origin (see consentCSP).
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// browser serves the browser routes.
type browser struct {
	svc    *keygate.Service
	pages  *web.Pages
	log    *slog.Logger
	secure bool // cookies are Secure: the public URL is https
	// apiBase is the API base URL the home page shows.
	apiBase string
	// autoConsent is Config.AutoConsent.
	autoConsent func(*http.Request) (AutoDecision, string)
	// oidc signs people in through upstream providers (browser_oidc.go);
	// noPassword is Config.NoPasswordLogin.
	oidc       *oidcLogin
	noPassword bool
}

// pageHandler is a browser handler that returns its error; page turns it
// into an HTML error page.
type pageHandler func(w http.ResponseWriter, r *http.Request) error

// mountBrowser registers the browser routes on s.mux. The templates are
// embedded, so a failure to parse them is a defect of the build: it stops
// the server at start-up rather than at the first visitor.
func (s *Server) mountBrowser() {
	pages, err := web.New()
	if err != nil {
		panic(err)
	}
	b := &browser{
		svc:     s.svc,
		pages:   pages,
		log:     s.log,
		secure:  strings.HasPrefix(strings.ToLower(s.cfg.PublicURL), "https://"),
		apiBase: s.cfg.PublicURL + "/api/v1",

		autoConsent: s.cfg.AutoConsent,
		oidc:        newOIDCLogin(s.cfg),
		noPassword:  s.cfg.NoPasswordLogin,
	}
	mux := http.NewServeMux()
	mux.Handle("GET /auth", b.page(b.authorize))
	mux.Handle("POST /auth", b.page(b.decide))
	mux.Handle("GET /login", b.page(b.loginForm))
	mux.Handle("POST /login", b.page(s.limited(s.loginLimiter, b.login))) // every password guess: rate-limited
	mux.Handle("POST /logout", b.page(b.logout))
	mux.Handle("GET /login/oidc/{n}", b.page(b.oidcStart)) // browser_oidc.go
	mux.Handle("GET "+oidcCallback, b.page(b.oidcCallback))
	mux.Handle("GET /static/", staticAssets(http.StripPrefix("/static/", web.Static())))
	mux.Handle("GET /{$}", b.page(b.home))
	b.mountApps(mux)                                                                              // /rankings, /apps/{id}: browser_apps.go
	b.mountDashboard(mux)                                                                         // /settings/: dashboard.go
	b.mountAccounts(mux, func(h pageHandler) pageHandler { return s.limited(s.loginLimiter, h) }) // accounts.go

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.errorPage(w, r, keygate.Errorf(keygate.EFORBIDDEN, "This form was sent from another site, so it was refused. Go back to the app and start again."))
	}))
	h := pageHeaders(csrf.Handler(mux))
	for _, p := range append([]string{"/auth", "/login", "/login/oidc/", "/logout", "/static/", "/{$}", "/settings/", "/admin/", "/signup", "/reset"}, appPaths...) {
		s.mux.Handle(p, h)
	}
}

// pageHeaders sets the headers every browser response carries. Pages and
// redirects are never cached (they hold form tokens and codes) and send no
// Referer, so neither the /auth query nor a code leaks to another site.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// staticAssets lets browsers cache the embedded CSS and script.
func staticAssets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

func (b *browser) page(h pageHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			b.errorPage(w, r, err)
		}
	})
}

// errorPage renders err as a page with its status. The message of a
// *keygate.Error is shown; any other error is logged and shown as a bare
// 500. An error page never redirects anywhere.
func (b *browser) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	status := logError(b.log, r, err)
	setRetryAfter(w, err)
	heading := http.StatusText(status)
	switch {
	case status == http.StatusServiceUnavailable:
		heading = "Busy"
	case status >= 500 || status == StatusClientClosed:
		heading = "Something went wrong"
	case status == http.StatusBadRequest && r.URL.Path == "/auth":
		heading = "This sign-in request is not valid"
	case status == http.StatusForbidden:
		heading = "Request refused"
	}
	b.render(w, r, b.pages.Notice(w, status, web.NoticePage{Heading: heading, Message: keygate.ErrorMessage(err)}))
}

// render logs a page that failed to render. Nothing has been written then,
// so a bare 500 still fits.
func (b *browser) render(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		b.log.ErrorContext(r.Context(), "render page", "path", r.URL.Path, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
}

// signedIn returns the request's session user and session, or nils when
// the request has no valid session.
func (b *browser) signedIn(r *http.Request) (*keygate.User, *keygate.Session, error) {
	token, ok := oneCookie(r, sessionCookie)
	if !ok {
		return nil, nil, nil
	}
	u, sess, err := b.svc.SessionUser(r.Context(), token)
	if keygate.ErrorCode(err) == keygate.EUNAUTHORIZED {
		return nil, nil, nil
	}
	return u, sess, err
}

// oneCookie returns the value of the request's cookie name when it carries
// exactly one. Two cookies of one name (one set by a sibling domain or for
// a narrower path, "cookie tossing") are ambiguous: neither is believed.
func oneCookie(r *http.Request, name string) (string, bool) {
	c := r.CookiesNamed(name)
	if len(c) != 1 {
		return "", false
	}
	return c[0].Value, true
}

// checkFormToken compares a form's token with want in constant time.
func checkFormToken(got, want string) error {
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return keygate.Errorf(keygate.EFORBIDDEN, "This form has expired or did not come from this site. Go back, reload the page and try again.")
	}
	return nil
}

// readForm parses a POSTed form body, capped at maxFormBytes. Query
// parameters are not part of the result.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, keygate.Errorf(keygate.ETOOLARGE, "the form is larger than %d bytes", maxFormBytes)
		}
		return nil, keygate.Errorf(keygate.EINVALID, "the form could not be read")
	}
	return r.PostForm, nil
}

// localReturn returns v when it is a place to come back to after signing
// in or out: an /auth request on this server, the home page or a page
// under /settings/ or /admin/, in printable ASCII (a query string as
// browsers send it). Anything else (another host, a scheme-relative
// "//host", another path, raw bytes outside ASCII) is dropped, so
// return_to can never redirect off-site.
func localReturn(v string) string {
	local := v == "/" || strings.HasPrefix(v, "/auth?") || strings.HasPrefix(v, "/settings/") || strings.HasPrefix(v, "/admin/")
	if !local || len(v) > maxReturnTo {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return ""
		}
	}
	return v
}

// seeOther answers 303 to a local path (after a form POST, the browser
// GETs it).
func seeOther(w http.ResponseWriter, path string) {
	w.Header().Set("Location", path)
	w.WriteHeader(http.StatusSeeOther)
}

func (b *browser) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", MaxAge: int(b.svc.Config().SessionTTL / time.Second),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (b *browser) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode,
	})
}

// loginToken returns the pre-session form token of the request's login
// cookie, or a fresh one, and (re)sets the cookie. Reusing the cookie's
// value keeps sign-in forms open in several tabs valid.
func (b *browser) loginToken(w http.ResponseWriter, r *http.Request) string {
	token := ""
	if c, ok := oneCookie(r, loginCookie); ok && len(c) == len(keygate.NewToken()) {
		token = c
	} else {
		token = keygate.NewToken()
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: token, Path: "/login", MaxAge: int(loginCookieTTL / time.Second),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteStrictMode,
	})
	return token
}

// showLogin renders the sign-in form, coming back to returnTo afterwards,
// with email filled in when it passes the text rule (what the page shows
// back follows the rule of what keygate stores).
func (b *browser) showLogin(w http.ResponseWriter, r *http.Request, status int, returnTo, email, msg string) error {
	if keygate.CheckText("email", email, maxEmailEcho) != nil {
		email = ""
	}
	return b.pages.Login(w, status, web.LoginPage{
		Email:      email,
		Error:      msg,
		ReturnTo:   returnTo,
		FormToken:  b.loginToken(w, r),
		App:        appOfReturn(returnTo),
		Providers:  b.oidc.loginProviders(returnTo),
		NoPassword: b.noPassword,
		SignUp:     b.svc.SignupPolicy() == keygate.SignupOpen,
	})
}

// appOfReturn names the app of the /auth request in returnTo, for the
// sign-in page's "review the request of …" line; nil when there is none.
func appOfReturn(returnTo string) *web.App {
	_, query, ok := strings.Cut(returnTo, "?")
	if !ok {
		return nil
	}
	v, err := url.ParseQuery(query)
	if err != nil {
		return nil
	}
	cb := v.Get("callback_url")
	if _, err := keygate.CheckCallbackURL(cb); err != nil {
		return nil
	}
	app := appView(cb)
	return &app
}

// loginForm serves GET /login: the sign-in form, or for a signed-in user
// the request in return_to (or a "signed in" page).
func (b *browser) loginForm(w http.ResponseWriter, r *http.Request) error {
	returnTo := localReturn(r.URL.Query().Get("return_to"))
	u, sess, err := b.signedIn(r)
	if err != nil {
		return err
	}
	if u == nil {
		return b.showLogin(w, r, http.StatusOK, returnTo, "", "")
	}
	if returnTo != "" {
		seeOther(w, returnTo)
		return nil
	}
	a := &account{user: u, sess: sess}
	return b.pages.SignedIn(w, http.StatusOK, web.SignedInPage{Nav: a.nav(""), Email: u.Email, FormToken: sess.CSRFToken})
}

// login serves POST /login. Every password attempt starts here and
// nowhere else: this is where login rate limiting belongs.
func (b *browser) login(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	returnTo := localReturn(form.Get("return_to"))
	email := form.Get("email")
	if b.noPassword {
		return b.showLogin(w, r, http.StatusForbidden, returnTo, "", "Password sign-in is turned off here: sign in with your provider.")
	}
	c, ok := oneCookie(r, loginCookie)
	if !ok || checkFormToken(form.Get("form_token"), c) != nil {
		return b.showLogin(w, r, http.StatusForbidden, returnTo, email,
			"This sign-in form expired or did not come from this site (are cookies enabled?). Please try again.")
	}
	token, err := b.svc.Login(r.Context(), email, form.Get("password"))
	switch keygate.ErrorCode(err) {
	case "":
	case keygate.EUNAUTHORIZED, keygate.ERATELIMIT, keygate.EUNAVAILABLE:
		// The form again, so that the next attempt is one click away.
		setRetryAfter(w, err)
		return b.showLogin(w, r, HTTPStatus(err), returnTo, email, keygate.ErrorMessage(err)+".")
	default:
		return err
	}
	// A new token on every sign-in (no session fixation); the browser's
	// previous session, if any, ends.
	if old, ok := oneCookie(r, sessionCookie); ok {
		if err := b.svc.Logout(r.Context(), old); err != nil {
			b.log.WarnContext(r.Context(), "end previous session", "err", err)
		}
	}
	b.setSessionCookie(w, token)
	b.clearCookie(w, loginCookie, "/login")
	if returnTo == "" {
		returnTo = "/login"
	}
	seeOther(w, returnTo)
	return nil
}

// logout serves POST /logout: it ends the session (the form must carry the
// session's form token), clears the cookie and goes to return_to or the
// sign-in form.
func (b *browser) logout(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	_, sess, err := b.signedIn(r)
	if err != nil {
		return err
	}
	if sess != nil {
		if err := checkFormToken(form.Get("form_token"), sess.CSRFToken); err != nil {
			return err
		}
		token, _ := oneCookie(r, sessionCookie)
		if err := b.svc.Logout(r.Context(), token); err != nil {
			return err
		}
	}
	b.clearCookie(w, sessionCookie, "/")
	returnTo := localReturn(form.Get("return_to"))
	if returnTo == "" {
		returnTo = "/login"
	}
	seeOther(w, returnTo)
	return nil
}
