package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// maxStateLen bounds the state parameter echoed to the callback, in bytes.
const maxStateLen = 2048

// checkState applies RFC 6749 Appendix A.5 to the state echoed to the
// callback: state = 1*VSCHAR, printable ASCII (%x20-7E), here at most
// maxStateLen bytes. The empty state of "state=" is echoed as such.
func checkState(state string) error {
	if len(state) > maxStateLen {
		return keygate.Errorf(keygate.EINVALID, "state must be at most %d bytes", maxStateLen)
	}
	for i := 0; i < len(state); i++ {
		if c := state[i]; c < 0x20 || c > 0x7e {
			return keygate.Errorf(keygate.EINVALID, "state must be printable ASCII (RFC 6749 Appendix A.5)")
		}
	}
	return nil
}

// authParams are the /auth query parameters keygate reads. Any other
// parameter (response_type, client_id, scope, …) is ignored (RFC 6749
// §3.1); each of these may appear only once (RFC 6749 §3.1: "Request and
// response parameters MUST NOT be included more than once").
var authParams = []string{
	"callback_url", "code_challenge", "code_challenge_method", "limit", "key_label",
	"expires_at", "usage_limit_type", "workspace_id", "state",
}

// authRequest is a parsed /auth query.
type authRequest struct {
	code     keygate.AuthCodeRequest
	spec     *keygate.AuthCodeSpec
	state    string
	hasState bool // state was given (even empty) and is echoed back
}

// parseAuthRequest parses and validates the /auth query with the service's
// own rules (ValidateAuthCodeRequest, as POST /api/v1/auth/keys/code
// does). It touches neither the session nor the store, so an invalid
// request is refused before anyone signs in. Errors are EINVALID naming
// the parameter.
func (b *browser) parseAuthRequest(r *http.Request) (*authRequest, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "the query string is not valid URL encoding")
	}
	for _, name := range authParams {
		if len(v[name]) > 1 {
			return nil, keygate.Errorf(keygate.EINVALID, "%s appears more than once", name)
		}
	}
	limit, err := parseQueryLimit(v.Get("limit"))
	if err != nil {
		return nil, err
	}
	a := &authRequest{code: keygate.AuthCodeRequest{
		CallbackURL:         v.Get("callback_url"),
		CodeChallenge:       v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"),
		Limit:               limit,
		KeyLabel:            v.Get("key_label"),
		UsageLimitType:      v.Get("usage_limit_type"),
		WorkspaceID:         v.Get("workspace_id"),
		// Without a callback_url the code is shown on the page.
		Headless: true,
	}}
	if e := v.Get("expires_at"); e != "" {
		a.code.ExpiresAt = &e
	}
	a.state, a.hasState = v.Get("state"), v.Has("state")
	if err := checkState(a.state); err != nil {
		return nil, err
	}
	if a.spec, err = b.svc.ValidateAuthCodeRequest(&a.code); err != nil {
		return nil, err
	}
	return a, nil
}

// callbackWith returns the callback URL with the given parameters and the
// request's state appended, the callback's own query kept byte-for-byte.
func (a *authRequest) callbackWith(pairs ...string) string {
	if a.hasState {
		// RFC 6749 §4.1.2: state is returned exactly as received.
		pairs = append(pairs, "state", a.state)
	}
	return keygate.AppendQuery(a.code.CallbackURL, pairs...)
}

// authorize serves GET /auth: validate the request, then sign in if
// needed, then ask for consent.
func (b *browser) authorize(w http.ResponseWriter, r *http.Request) error {
	a, err := b.parseAuthRequest(r)
	if err != nil {
		return err
	}
	if b.autoConsent != nil {
		switch decision, userID := b.autoConsent(r); decision {
		case AutoApprove:
			return b.approve(w, r, a, userID, "")
		case AutoDeny:
			return b.deny(w, a)
		}
	}
	u, sess, err := b.signedIn(r)
	if err != nil {
		return err
	}
	if u == nil {
		return b.showLogin(w, r, http.StatusOK, "/auth?"+r.URL.RawQuery, "", "")
	}
	return b.showConsent(w, r, a, u, sess)
}

// decide serves POST /auth, the consent form. The query is the /auth
// request itself, validated again; the form carries decision (approve or
// deny), the session's form token and the chosen workspace_id.
//
// Approve creates the code with the same service call as the API flow and
// answers 302 to callback_url with code (and state) appended, or shows the
// code in headless mode. Deny answers 302 with error=access_denied (RFC
// 6749 §4.1.2.1).
func (b *browser) decide(w http.ResponseWriter, r *http.Request) error {
	a, err := b.parseAuthRequest(r)
	if err != nil {
		return err
	}
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	u, sess, err := b.signedIn(r)
	if err != nil {
		return err
	}
	if u == nil {
		return b.showLogin(w, r, http.StatusOK, "/auth?"+r.URL.RawQuery, "", "Your session has ended. Sign in again to continue.")
	}
	if err := checkFormToken(form.Get("form_token"), sess.CSRFToken); err != nil {
		return err
	}
	switch form.Get("decision") {
	case "approve":
		return b.approve(w, r, a, u.ID, form.Get("workspace_id"))
	case "deny":
		return b.deny(w, a)
	}
	return keygate.Errorf(keygate.EINVALID, "decision must be approve or deny")
}

// deny answers 302 to callback_url with error=access_denied (RFC 6749
// §4.1.2.1), or says that no key was made in headless mode.
func (b *browser) deny(w http.ResponseWriter, a *authRequest) error {
	if a.code.CallbackURL == "" {
		return b.pages.Notice(w, http.StatusOK, web.NoticePage{
			Heading: "Access denied",
			Message: "No key was created. You can close this page.",
		})
	}
	redirect(w, a.callbackWith("error", "access_denied"))
	return nil
}

// approve creates the code for userID and answers 302 to callback_url
// with it, or shows it in headless mode.
func (b *browser) approve(w http.ResponseWriter, r *http.Request, a *authRequest, userID, workspaceID string) error {
	req := a.code
	if workspaceID != "" {
		req.WorkspaceID = workspaceID
	}
	// No HTTP-Referer is trusted here: the app is identified by its
	// callback_url (keygate.AppFrom falls back to it).
	code, err := b.svc.CreateAuthCode(r.Context(), keygate.Actor{UserID: userID}, &req, keygate.Attribution{})
	if err != nil {
		return err
	}
	if a.code.CallbackURL == "" {
		return b.pages.Code(w, http.StatusOK, web.CodePage{
			App:      appView(""),
			Code:     code.Code,
			ValidFor: humanDuration(b.svc.Config().CodeTTL),
		})
	}
	redirect(w, a.callbackWith("code", code.Code))
	return nil
}

// redirect answers 302 to a validated callback URL. http.Redirect is not
// used: it would rewrite the URL, and the callback is used exactly as the
// app gave it.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusFound)
}

// showConsent renders the consent page for a valid request and a
// signed-in user.
func (b *browser) showConsent(w http.ResponseWriter, r *http.Request, a *authRequest, u *keygate.User, sess *keygate.Session) error {
	c, err := b.svc.Consent(r.Context(), u.ID, a.spec)
	if err != nil {
		return err
	}
	workspaces := make([]web.WorkspaceOption, 0, len(c.Workspaces))
	for _, ws := range c.Workspaces {
		workspaces = append(workspaces, web.WorkspaceOption{ID: ws.ID, Name: ws.Name, Selected: ws.ID == c.Selected.ID})
	}
	app := webApp(c.App)
	page := web.ConsentPage{
		App:        app,
		UserEmail:  u.Email,
		Action:     "/auth?" + r.URL.RawQuery,
		FormToken:  sess.CSRFToken,
		ReturnTo:   "/auth?" + r.URL.RawQuery,
		LimitReset: resetText(a.spec.LimitReset),
		KeyLabel:   c.KeyLabel,
		Workspaces: workspaces,
	}
	if a.spec.Limit != nil {
		page.Limit = formatUSD(*a.spec.Limit)
	}
	if t := a.spec.KeyExpiresAt; t != nil {
		page.Expires = t.UTC().Format("2 January 2006, 15:04 UTC")
	}
	w.Header().Set("Content-Security-Policy", consentCSP(a.code.CallbackURL))
	return b.pages.Consent(w, http.StatusOK, page)
}

// appView describes the app of a callback URL as the pages show it.
func appView(callbackURL string) web.App {
	return webApp(keygate.AppOf(keygate.Attribution{}, callbackURL))
}

// webApp is app as the pages show it: title and URL, loopback apps as
// "host:port", the headless app without a URL.
func webApp(app *keygate.App) web.App {
	if app.Headless() {
		return web.App{Title: app.Title, Headless: true}
	}
	return web.App{Title: app.Title, URL: app.URL, Loopback: app.IsLoopback}
}

// consentCSP is pageCSP with form-action allowing the callback's origin:
// Chromium applies a page's form-action to the redirects that follow a
// form submission, and Approve and Deny answer with a 302 to the callback.
func consentCSP(callbackURL string) string {
	src := callbackSource(callbackURL)
	if src == "" {
		return pageCSP
	}
	return strings.Replace(pageCSP, "form-action 'self'", "form-action 'self' "+src, 1)
}

// callbackSource returns the CSP source expression that matches a
// validated callback URL: scheme://host[:port], or just scheme: when the
// host cannot be written as a CSP host-source (an IPv6 literal, or a
// private-use scheme's host with characters CSP's grammar lacks).
func callbackSource(callbackURL string) string {
	if callbackURL == "" {
		return ""
	}
	u, err := url.Parse(callbackURL)
	if err != nil || u.Scheme == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host := u.Hostname()
	if !cspHost(host) {
		return scheme + ":"
	}
	src := scheme + "://" + host
	if p := u.Port(); p != "" {
		src += ":" + p
	}
	return src
}

// cspHost reports whether host fits CSP's host-part grammar: labels of
// letters, digits and '-', separated by dots (CSP Level 3, §2.3.1).
func cspHost(host string) bool {
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// formatUSD renders micro-dollars as dollars with cents, and with more
// digits only when the amount has them: $100.00, $0.50, $0.000125.
func formatUSD(m keygate.Micros) string {
	whole, frac := int64(m)/1_000_000, int64(m)%1_000_000
	if frac%10_000 == 0 {
		return fmt.Sprintf("$%d.%02d", whole, frac/10_000)
	}
	return strings.TrimRight(fmt.Sprintf("$%d.%06d", whole, frac), "0")
}

// resetText describes a limit's reset interval (keygate.PeriodsAt: UTC
// days, ISO weeks from Monday, UTC calendar months); "" when the limit
// never resets.
func resetText(r keygate.LimitReset) string {
	switch r {
	case keygate.ResetDaily:
		return "resets every day at 00:00 UTC"
	case keygate.ResetWeekly:
		return "resets every Monday at 00:00 UTC"
	case keygate.ResetMonthly:
		return "resets on the 1st of every month, 00:00 UTC"
	}
	return ""
}

// humanDuration renders a code lifetime: "10 minutes", "1 hour", "30 seconds".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d.Round(time.Second)/time.Second), "second")
}
