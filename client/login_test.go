package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/client"
)

// loginRun records what a Login call showed and where its callback was.
type loginRun struct {
	mu      sync.Mutex
	authURL string
	out     bytes.Buffer
}

func (r *loginRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(p)
}

func (r *loginRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// callback returns the callback URL that Login put in the /auth URL.
func (r *loginRun) callback(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(r.authURL)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := url.Parse(u.Query().Get("callback_url"))
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// opener wraps a browser action so that the run remembers the URL.
func (r *loginRun) opener(open func(string) error) func(string) error {
	return func(u string) error {
		r.authURL = u
		return open(u)
	}
}

// assertClosed checks that nothing listens on the callback's port any more.
func (r *loginRun) assertClosed(t *testing.T) {
	t.Helper()
	if conn, err := net.DialTimeout("tcp", r.callback(t).Host, time.Second); err == nil {
		conn.Close()
		t.Errorf("the callback listener %s is still open after Login returned", r.callback(t).Host)
	}
}

func TestLogin(t *testing.T) {
	kg := newKeygate(t)
	for _, tt := range []struct{ name, serverURL string }{{"site-root", kg.srv.URL}, {"api-base", kg.APIBase}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ua := newUserAgent(kg.srv.URL, testEmail, testPassword)
			run := &loginRun{}
			expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
			res, err := client.Login(ctx, client.LoginOptions{
				ServerURL:      tt.serverURL,
				Limit:          ptr(5.0),
				UsageLimitType: "monthly",
				KeyLabel:       "laptop <script>",
				ExpiresAt:      expires,
				Timeout:        30 * time.Second,
				OpenBrowser: run.opener(func(u string) error {
					// Browsers ask for an icon first; that must not decide the login.
					if res, err := http.Get("http://" + run.callback(t).Host + "/favicon.ico"); err == nil {
						res.Body.Close()
					}
					return ua.approve(u)
				}),
				Out: run,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.BaseURL != kg.APIBase || res.UserID != kg.user.ID || !strings.HasPrefix(res.Key, "sk-kg-v1-") {
				t.Errorf("Login = base %q user %q key %.9s…; want %q, %q, sk-kg-v1-…", res.BaseURL, res.UserID, res.Key, kg.APIBase, kg.user.ID)
			}
			key, err := client.New(res.BaseURL, client.WithAPIKey(res.Key)).GetCurrentKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if key.Label != "laptop <script>" || key.Limit == nil || *key.Limit != 5 || key.LimitReset == nil || *key.LimitReset != "monthly" || key.ExpiresAt == nil {
				t.Errorf("the new key = %+v, want label, limit 5 monthly and an expiry", key)
			}

			// What the browser was sent to, and what it was shown.
			u, _ := url.Parse(run.authURL)
			q := u.Query()
			if u.Path != "/auth" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
				t.Errorf("auth URL %s: want /auth with an S256 challenge", run.authURL)
			}
			cb := run.callback(t)
			if host, _, _ := net.SplitHostPort(cb.Host); cb.Scheme != "http" || host != "127.0.0.1" || cb.Path != "/callback" || len(cb.Query().Get("state")) < 22 {
				t.Errorf("callback %s: want http://127.0.0.1:PORT/callback?state=<random>", cb)
			}
			if !strings.Contains(run.output(), run.authURL) {
				t.Errorf("Out = %q, want the URL printed", run.output())
			}
			if ua.last.status != http.StatusOK || !strings.Contains(ua.last.body, "Signed in") {
				t.Errorf("callback page: %d %q", ua.last.status, ua.last.body)
			}
			// It looks like keygate's own pages: their layout and stylesheet.
			css := kg.srv.URL + "/static/style.css"
			if !strings.Contains(ua.last.body, `<header class="brand">keygate</header>`) || !strings.Contains(ua.last.body, `<link rel="stylesheet" href="`+css+`">`) {
				t.Errorf("callback page does not use keygate's layout and %s: %s", css, ua.last.body)
			}
			if csp := ua.last.header.Get("Content-Security-Policy"); csp != "default-src 'none'; style-src "+css {
				t.Errorf("callback page CSP = %q, want only the stylesheet allowed", csp)
			}
			run.assertClosed(t)
		})
	}
}

// TestLoginIgnoresForgedCallbacks: callbacks to the loopback port that do
// not carry the login's state (a forged code, none, a repeated state, a
// forged access_denied) are each answered 400 and do not end the login;
// the user's own approval that follows still yields the key.
func TestLoginIgnoresForgedCallbacks(t *testing.T) {
	kg := newKeygate(t)
	ua := newUserAgent(kg.srv.URL, testEmail, testPassword)
	run := &loginRun{}
	res, err := client.Login(context.Background(), client.LoginOptions{
		ServerURL: kg.srv.URL,
		Timeout:   30 * time.Second,
		OpenBrowser: run.opener(func(u string) error {
			cb := run.callback(t)
			base := "http://" + cb.Host + cb.Path
			for _, query := range []string{
				"?state=forged&code=stolen", "?code=stolen", "?" + cb.RawQuery + "&state=x&code=c", "?state=forged&error=access_denied",
			} {
				res, err := http.Get(base + query)
				if err != nil {
					return err
				}
				res.Body.Close()
				if res.StatusCode != http.StatusBadRequest {
					t.Errorf("forged callback %s: status %d, want 400", query, res.StatusCode)
				}
			}
			if err := ua.approve(withCallbackQuery(t, u, "state=forged")); err != nil {
				return err
			}
			if ua.last.status != http.StatusBadRequest || !strings.Contains(ua.last.body, "Sign-in refused") {
				t.Errorf("approved request with a forged state: page %d %.200q, want 400 Sign-in refused", ua.last.status, ua.last.body)
			}
			return ua.approve(u)
		}),
		Out: run,
	})
	if err != nil {
		t.Fatalf("Login after forged callbacks = %v, want the key of the user's own approval", err)
	}
	if _, err := client.New(res.BaseURL, client.WithAPIKey(res.Key)).GetCurrentKey(context.Background()); err != nil {
		t.Errorf("the key does not work: %v", err)
	}
	if ua.last.status != http.StatusOK || !strings.Contains(ua.last.body, "Signed in") {
		t.Errorf("the user's own callback page: %d %.200q", ua.last.status, ua.last.body)
	}
	run.assertClosed(t)
}

// TestLoginServerNotRunning: a server that is not listening fails the
// login within seconds with ErrUnreachable naming it, before any browser
// is opened and with the listener closed.
func TestLoginServerNotRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	run := &loginRun{}
	opened := false
	start := time.Now()
	_, err = client.Login(context.Background(), client.LoginOptions{
		ServerURL:   "http://" + addr,
		Timeout:     time.Minute,
		OpenBrowser: run.opener(func(string) error { opened = true; return nil }),
		Out:         run,
	})
	if !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Login to a closed port = %v, want ErrUnreachable naming %s and why", err, addr)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("Login took %v to fail, want a few seconds at most", d)
	}
	if opened {
		t.Error("the browser was sent to a server that does not answer")
	}
}

// TestLoginErrors: each way a login goes wrong has its own error, the
// browser is told, and the listener is closed.
func TestLoginErrors(t *testing.T) {
	kg := newKeygate(t)
	tests := []struct {
		name    string
		timeout time.Duration
		browse  func(t *testing.T, ua *userAgent, run *loginRun, authURL string) error
		want    []error
		page    int    // status of the page the browser ends on; 0 to skip
		shows   string // a part of that page
	}{
		{"denied", 0, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			return ua.deny(u)
		}, []error{client.ErrAccessDenied}, http.StatusOK, "Access denied"},

		// An attacker's /auth request whose callback carries another state,
		// none or a repeated one: the browser approves it, the callback is
		// refused and the login keeps waiting for its own, here in vain.
		{"wrong-state", 300 * time.Millisecond, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			return ua.approve(withCallbackQuery(t, u, "state=forged"))
		}, []error{client.ErrTimeout}, http.StatusBadRequest, "Sign-in refused"},

		{"missing-state", 300 * time.Millisecond, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			return ua.approve(withCallbackQuery(t, u, ""))
		}, []error{client.ErrTimeout}, http.StatusBadRequest, "Sign-in refused"},

		{"state-twice", 300 * time.Millisecond, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			cb := run.callback(t)
			p, err := ua.do("GET", cb.String()+"&state=x&code=c", nil)
			ua.last = p
			return err
		}, []error{client.ErrTimeout}, http.StatusBadRequest, "Sign-in refused"},

		{"server-error-escaped", 0, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			p, err := ua.do("GET", run.callback(t).String()+"&error="+url.QueryEscape("<script>alert(1)</script>"), nil)
			ua.last = p
			return err
		}, nil, http.StatusBadRequest, "&lt;script&gt;alert(1)&lt;/script&gt;"},

		{"no-code", 0, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			p, err := ua.do("GET", run.callback(t).String(), nil)
			ua.last = p
			return err
		}, nil, http.StatusBadRequest, "did not send a code"},

		{"timeout", 200 * time.Millisecond, func(t *testing.T, ua *userAgent, run *loginRun, u string) error {
			return nil // the user never comes back
		}, []error{client.ErrTimeout, context.DeadlineExceeded}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ua := newUserAgent(kg.srv.URL, testEmail, testPassword)
			run := &loginRun{}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			res, err := client.Login(context.Background(), client.LoginOptions{
				ServerURL:   kg.srv.URL,
				Timeout:     timeout,
				OpenBrowser: run.opener(func(u string) error { return tt.browse(t, ua, run, u) }),
				Out:         run,
			})
			if err == nil {
				t.Fatalf("Login = key %.9s…, want an error", res.Key)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("Login: err = %v, want errors.Is %v", err, w)
				}
			}
			if strings.Contains(run.output(), "Could not open") {
				t.Errorf("the browser failed: %s", run.output())
			}
			if tt.page != 0 {
				if ua.last == nil || ua.last.status != tt.page || !strings.Contains(ua.last.body, tt.shows) {
					t.Errorf("callback page = %+v, want status %d showing %q", ua.last, tt.page, tt.shows)
				}
				if strings.Contains(ua.last.body, "<script>") {
					t.Errorf("callback page has unescaped markup: %s", ua.last.body)
				}
			}
			run.assertClosed(t)
		})
	}
}

// withCallbackQuery returns authURL with its callback's query replaced.
func withCallbackQuery(t *testing.T, authURL, query string) string {
	t.Helper()
	u, _ := url.Parse(authURL)
	q := u.Query()
	cb, err := url.Parse(q.Get("callback_url"))
	if err != nil {
		t.Fatal(err)
	}
	cb.RawQuery = query
	q.Set("callback_url", cb.String())
	u.RawQuery = q.Encode()
	return u.String()
}

// TestLoginBrowserFails: when no browser opens, the printed URL is the way
// in: the user opens it by hand.
func TestLoginBrowserFails(t *testing.T) {
	kg := newKeygate(t)
	ua := newUserAgent(kg.srv.URL, testEmail, testPassword)
	run := &loginRun{}
	res, err := client.Login(context.Background(), client.LoginOptions{
		ServerURL: kg.srv.URL,
		Timeout:   30 * time.Second,
		OpenBrowser: run.opener(func(u string) error {
			go ua.approve(u) // the person copies the URL into a browser
			return errNoBrowser
		}),
		Out: run,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Key == "" {
		t.Error("Login gave no key")
	}
	if out := run.output(); !strings.Contains(out, "Could not open a browser (no browser here)") || !strings.Contains(out, run.authURL) {
		t.Errorf("Out = %q, want the failure and the URL", out)
	}
}

func TestLoginPort(t *testing.T) {
	kg := newKeygate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ua := newUserAgent(kg.srv.URL, testEmail, testPassword)
	run := &loginRun{}
	if _, err := client.Login(context.Background(), client.LoginOptions{
		ServerURL: kg.srv.URL, Port: port, Timeout: 30 * time.Second, OpenBrowser: run.opener(ua.approve), Out: io.Discard,
	}); err != nil {
		t.Fatal(err)
	}
	if got := run.callback(t).Port(); got != strconv.Itoa(port) {
		t.Errorf("callback port = %s, want %d", got, port)
	}
}

func TestLoginCancelled(t *testing.T) {
	kg := newKeygate(t)
	ctx, cancel := context.WithCancel(context.Background())
	run := &loginRun{}
	_, err := client.Login(ctx, client.LoginOptions{
		ServerURL:   kg.srv.URL,
		OpenBrowser: run.opener(func(string) error { time.AfterFunc(50*time.Millisecond, cancel); return nil }),
		Out:         io.Discard,
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrTimeout) {
		t.Errorf("Login: err = %v, want context.Canceled", err)
	}
	run.assertClosed(t)
}

func TestLoginBadServerURL(t *testing.T) {
	opened := false
	_, err := client.Login(context.Background(), client.LoginOptions{
		ServerURL:   "127.0.0.1:8080",
		OpenBrowser: func(string) error { opened = true; return nil },
		Out:         io.Discard,
	})
	if err == nil || opened {
		t.Errorf("Login with a URL without scheme: err = %v, browser opened %v; want an error first", err, opened)
	}
}
