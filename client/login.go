package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/pkce"
)

// Errors of Login, for errors.Is. ErrTimeout errors also match
// context.DeadlineExceeded.
var (
	ErrAccessDenied = errors.New("client: login: access denied on the consent page")
	ErrTimeout      = errors.New("client: login: no answer from the browser in time")
	ErrUnreachable  = errors.New("client: login: the server does not answer")
)

// reachTimeout bounds the check that the server answers at all, made
// before the browser is sent to it.
const reachTimeout = 5 * time.Second

// LoginOptions configure Login. Only ServerURL is required.
type LoginOptions struct {
	// ServerURL is the API base URL, as for New
	// ("https://openrouter.ai/api/v1"). A URL without a path
	// ("http://127.0.0.1:8080") stands for its /api/v1.
	ServerURL string
	// Port is the loopback port of the callback; 0 picks a free one.
	Port int
	// Limit is the spending limit to ask for, in USD; nil asks for none.
	// UsageLimitType makes it reset "daily", "weekly" or "monthly".
	Limit          *float64
	UsageLimitType string
	KeyLabel       string
	ExpiresAt      time.Time // zero for a key that does not expire
	// Timeout bounds the wait for the browser; the default is 5 minutes.
	Timeout time.Duration
	// OpenBrowser is called with the /auth URL and should return once the
	// browser has been asked to open it. nil tries the system's browser
	// (open, xdg-open or rundll32). The URL is printed to Out either way,
	// so a function that does nothing is right for machines without a
	// browser.
	OpenBrowser func(url string) error
	// Out receives the URL and progress messages; nil is os.Stderr.
	Out io.Writer
	// HTTPClient is used for the code exchange; nil is http.DefaultClient.
	HTTPClient *http.Client
}

// LoginResult is the outcome of a successful Login.
type LoginResult struct {
	Key     string // the new API key, a secret
	UserID  string // its user, when the server says
	BaseURL string // the API base URL the key belongs to, for New
}

// Login runs the browser flow for a command-line program (RFC 8252: OAuth
// for native apps): it listens on 127.0.0.1, sends the user's browser to
// /auth with an S256 code challenge and a callback URL carrying a random
// state, waits for the browser to come back with a code, checks the state
// and exchanges the code with its verifier. The listener is closed before
// Login returns.
//
// A callback whose state is missing, repeated or wrong (a forged or
// replayed one: anyone who can reach the loopback port can send it) is
// answered 400 and otherwise ignored: Login keeps waiting for the callback
// of its own request, so a stranger cannot end it.
//
// Before the browser is sent anywhere, Login asks the server for the /auth
// page (HEAD): a server that is not running, or not there, fails the login
// within seconds instead of leaving the user before a browser error page
// and the terminal waiting.
//
// Errors: ErrUnreachable when the server does not answer within 5 seconds,
// ErrAccessDenied when the user declined, ErrTimeout when the browser did
// not come back within Timeout, ctx's error when ctx ends first, and an
// *Error when the exchange is refused.
func Login(ctx context.Context, o LoginOptions) (*LoginResult, error) {
	base, err := loginBase(o.ServerURL)
	if err != nil {
		return nil, err
	}
	c := New(base, WithHTTPClient(o.HTTPClient))
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	open := o.OpenBrowser
	if open == nil {
		open = openSystemBrowser
	}

	lb, err := listenLoopback(o.Port, stylesheetOf(base))
	if err != nil {
		return nil, err
	}
	defer lb.close(ctx)
	verifier := pkce.NewVerifier()
	authURL, err := c.CreateAuthorizationURL(AuthorizationURLParams{
		CallbackURL:         lb.callbackURL,
		CodeChallenge:       pkce.ChallengeS256(verifier),
		CodeChallengeMethod: string(pkce.S256),
		Limit:               o.Limit,
		UsageLimitType:      o.UsageLimitType,
		KeyLabel:            o.KeyLabel,
		ExpiresAt:           o.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}

	if err := checkReachable(ctx, o.HTTPClient, authURL); err != nil {
		return nil, err
	}

	fmt.Fprintf(out, "Open this URL in a browser to sign in:\n\n  %s\n\n", authURL)
	if err := open(authURL); err != nil {
		fmt.Fprintf(out, "Could not open a browser (%v); open the URL above yourself.\n", err)
	}
	fmt.Fprintln(out, "Waiting for the browser...")
	code, err := lb.wait(ctx, o.Timeout)
	if err != nil {
		return nil, err
	}

	method := string(pkce.S256)
	res, err := c.ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{
		Code:                code,
		CodeVerifier:        verifier,
		CodeChallengeMethod: &method,
	})
	if err != nil {
		return nil, err
	}
	r := &LoginResult{Key: res.Key, BaseURL: base}
	if res.UserID != nil {
		r.UserID = *res.UserID
	}
	return r, nil
}

// checkReachable sends HEAD authURL and returns ErrUnreachable, with the
// transport's reason, when no HTTP answer comes within reachTimeout.
// Any answer will do: the page itself is the browser's business.
func checkReachable(ctx context.Context, hc *http.Client, authURL string) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	rctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodHead, authURL, nil)
	if err != nil {
		return fmt.Errorf("client: login: %w", err)
	}
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("client: login: %w", ctx.Err())
		}
		why := err
		if ue, ok := errors.AsType[*url.Error](err); ok {
			why = ue.Err // without the method and the whole /auth URL
		}
		u, _ := url.Parse(authURL)
		return fmt.Errorf("%w: %s://%s: %w (is it running, and is the URL right?)", ErrUnreachable, u.Scheme, u.Host, why)
	}
	res.Body.Close()
	return nil
}

// loginBase returns the API base URL of LoginOptions.ServerURL.
func loginBase(raw string) (string, error) {
	u, err := parseBase(raw)
	if err != nil {
		return "", err
	}
	if u.Path == "" {
		u.Path = "/api/v1"
	}
	return u.String(), nil
}

// loopback is the callback server of one login, on 127.0.0.1 (RFC 8252
// §7.3).
type loopback struct {
	srv         *http.Server
	callbackURL string
	results     chan callback
}

// listenLoopback starts the callback server on port (0 for any); its pages
// use the stylesheet at stylesheet. The state rides inside the callback
// URL, whose query keygate keeps when it appends the code, and binds the
// callback to this login (RFC 6749 §10.12).
func listenLoopback(port int, stylesheet string) (*loopback, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("client: login: %w", err)
	}
	state := rand.Text()
	lb := &loopback{
		callbackURL: "http://" + ln.Addr().String() + "/callback?state=" + state,
		results:     make(chan callback, 1),
	}
	lb.srv = &http.Server{Handler: callbackHandler(state, stylesheet, lb.results), ReadHeaderTimeout: 10 * time.Second}
	go lb.srv.Serve(ln)
	return lb, nil
}

// wait returns the code of the first callback, or why there is none.
func (lb *loopback) wait(ctx context.Context, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case cb := <-lb.results:
		return cb.code, cb.err
	case <-wctx.Done():
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("client: login: %w", err)
		}
		return "", fmt.Errorf("%w (waited %s: %w)", ErrTimeout, timeout, context.DeadlineExceeded)
	}
}

// close stops the server; Shutdown first, so that the page answering the
// last callback reaches the browser.
func (lb *loopback) close(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if lb.srv.Shutdown(sctx) != nil {
		lb.srv.Close()
	}
}

// callback is what the browser brought back: a code, or why there is none.
type callback struct {
	code string
	err  error
}

// ownState reports whether q carries state exactly once (RFC 6749
// §10.12): only then is the rest of the query believed.
func ownState(state string, q url.Values) bool {
	got := q["state"]
	return len(got) == 1 && subtle.ConstantTimeCompare([]byte(got[0]), []byte(state)) == 1
}

// readCallback reads the query of a callback that carries the login's own
// state.
func readCallback(q url.Values) callback {
	// RFC 6749 §4.1.2.1: the error response.
	switch e := q.Get("error"); e {
	case "":
	case "access_denied":
		return callback{err: ErrAccessDenied}
	default:
		return callback{err: fmt.Errorf("client: login: the server answered error=%q", e)}
	}
	code := q.Get("code")
	if code == "" {
		return callback{err: errors.New("client: login: the callback carries no code")}
	}
	return callback{code: code}
}

// callbackHandler serves /callback: the first request with the login's
// state decides the login and is sent on results; later ones are told the
// login is over. A request without the state is refused and changes
// nothing.
func callbackHandler(state, stylesheet string, results chan<- callback) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r) // the browser also asks for /favicon.ico
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		if !ownState(state, q) {
			page{http.StatusBadRequest, "Sign-in refused", "This request does not belong to the sign-in the terminal started. Start it again from the terminal.", ""}.write(w, stylesheet)
			return
		}
		cb, first := readCallback(q), false
		once.Do(func() { results <- cb; first = true })
		p := page{Status: http.StatusOK, Title: "Signed in", Message: "You can close this tab and return to the terminal."}
		switch {
		case !first:
			p = page{http.StatusConflict, "Already done", "This sign-in has already been handled. Return to the terminal.", ""}
		case errors.Is(cb.err, ErrAccessDenied):
			p = page{http.StatusOK, "Access denied", "No key was made. You can close this tab.", ""}
		case cb.err != nil:
			p = page{http.StatusBadRequest, "Sign-in failed", "The server did not send a code.", r.URL.Query().Get("error")}
		}
		p.write(w, stylesheet)
	})
}

// stylesheetOf returns the URL of the stylesheet of the server at the API
// base URL base: keygate serves its pages' styles at /static/style.css, so
// the callback's answer looks like the pages the browser just left. A
// server without it leaves the page unstyled, nothing worse.
func stylesheetOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	css := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/static/style.css"}).String()
	if strings.ContainsAny(css, " ;,'\"") {
		return "" // it could not be written into the Content-Security-Policy
	}
	return css
}

// page is the small HTML answer to the browser, laid out like keygate's
// own pages. html/template escapes every field, including Detail, which
// comes from the request.
type page struct {
	Status  int
	Title   string
	Message string
	Detail  string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · keygate</title>
{{with .Stylesheet}}<link rel="stylesheet" href="{{.}}">{{end}}
</head>
<body>
<header class="brand">keygate</header>
<main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{with .Detail}}<p>Error: <code>{{.}}</code></p>{{end}}
</main>
</body>
</html>
`))

// write answers with p, styled by the stylesheet at stylesheet ("" for
// none), which the Content-Security-Policy allows and nothing else.
func (p page) write(w http.ResponseWriter, stylesheet string) {
	var b bytes.Buffer
	// Cannot fail: the template and its data are ours.
	pageTmpl.Execute(&b, struct {
		page
		Stylesheet string
	}{p, stylesheet})
	csp := "default-src 'none'"
	if stylesheet != "" {
		csp += "; style-src " + stylesheet
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	w.Write(b.Bytes())
}
