package server_test

// End-to-end tests of the browser flow in real headless Chromium, driven
// with chromedp against a keygate server and an app's callback server,
// both on loopback.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate/browsertest"
	"github.com/keygate/keygate/pkce"
)

const testPassword = "correct horse battery staple"

// newBrowser starts a fresh headless Chromium for t (browsertest.New).
func newBrowser(t *testing.T) context.Context { return browsertest.New(t) }

// callbackServer is an app's loopback callback: it records the query of
// every request it receives.
type callbackServer struct {
	srv  *httptest.Server
	hits chan url.Values
}

func newCallbackServer(t *testing.T) *callbackServer {
	t.Helper()
	c := &callbackServer{hits: make(chan url.Values, 8)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		c.hits <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>App</title><h1 id="done">Back in the app</h1>`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// url returns the callback URL on "localhost", so that the redirect from
// keygate (on 127.0.0.1) to the app is a cross-site navigation, as in life.
func (c *callbackServer) url(path string) string {
	u, _ := url.Parse(c.srv.URL)
	return "http://localhost:" + u.Port() + path
}

// wait returns the query of the next callback request, failing the test
// when none arrives within 20 seconds.
func (c *callbackServer) wait(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	select {
	case q := <-c.hits:
		return q
	case <-ctx.Done():
		t.Fatal("the callback server received nothing")
		return nil
	}
}

// sdkAuthorizationURL returns the URL that the official TypeScript SDK's
// oAuth.createAuthorizationUrl builds for keygate at base (the SDK's
// serverURL is base + "/api/v1"). With Node and conformance/ts installed
// it asks the SDK itself and checks that the Go rendering below agrees;
// otherwise it uses the Go rendering: new URL('/auth', serverURL) with
// URLSearchParams callback_url, code_challenge, code_challenge_method.
func sdkAuthorizationURL(t *testing.T, ctx context.Context, base, callback, challenge string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	goURL := u.Scheme + "://" + u.Host + "/auth?callback_url=" + url.QueryEscape(callback) +
		"&code_challenge=" + url.QueryEscape(challenge) + "&code_challenge_method=S256"

	dir, _ := filepath.Abs(filepath.Join("..", "conformance", "ts"))
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "@openrouter", "sdk")); err != nil || statErr != nil {
		t.Logf("node or conformance/ts/node_modules is missing (run npm ci there): the SDK's URL is rebuilt in Go")
		return goURL
	}
	const script = `import { OpenRouter } from "@openrouter/sdk";
const sdk = new OpenRouter({ serverURL: process.env.KG_SERVER_URL });
console.log(await sdk.oAuth.createAuthorizationUrl({
  callbackUrl: process.env.KG_CALLBACK_URL,
  codeChallengeMethod: "S256",
  codeChallenge: process.env.KG_CODE_CHALLENGE,
}));`
	cmd := exec.CommandContext(ctx, node, "--input-type=module", "-e", script)
	cmd.Dir = dir
	// The SDK reads OPENROUTER_* variables; none of a developer's may change
	// what it builds here.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENROUTER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KG_SERVER_URL="+base+"/api/v1", "KG_CALLBACK_URL="+callback, "KG_CODE_CHALLENGE="+challenge)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node createAuthorizationUrl: %v\n%s", err, stderr.String())
	}
	sdkURL := strings.TrimSpace(string(out))
	if sdkURL != goURL {
		t.Errorf("the SDK built %s, the Go rendering %s", sdkURL, goURL)
	}
	return sdkURL
}

// signIn fills in and submits the sign-in form, then waits for the
// consent page.
func signIn(email string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
}

// get runs a browser action that reads a value, failing the test on error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// do runs browser actions, failing the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// screenshot saves a PNG of the whole page as a test artifact and logs
// its path.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := get(t, ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the %s: %s", strings.TrimSuffix(name, ".png"), path)
}

// exchangeAndUse exchanges code with verifier and calls GET /api/v1/key
// with the key, returning the key's data.
func exchangeAndUse(t *testing.T, e *env, code, verifier string) map[string]any {
	t.Helper()
	body := map[string]any{"code": code}
	if verifier != "" {
		body["code_verifier"], body["code_challenge_method"] = verifier, "S256"
	}
	r := e.exchange(body)
	if r.status != http.StatusOK {
		t.Fatalf("exchange = %d %s", r.status, r.body)
	}
	key := r.json(t)["key"].(string)
	r = e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key)
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/key = %d %s", r.status, r.body)
	}
	return r.json(t)["data"].(map[string]any)
}

func TestBrowserApproveWithSDKURL(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t)
	cb := newCallbackServer(t)
	verifier := pkce.NewVerifier()
	callback := cb.url("/callback")
	authURL := sdkAuthorizationURL(t, ctx, e.srv.URL, callback, pkce.ChallengeS256(verifier))

	do(t, ctx, chromedp.Navigate(authURL), signIn("alice@example.com"))
	u, _ := url.Parse(callback)
	if title := get(t, ctx, chromedp.Text(chromedp.ID("app-title"))); title != u.Host {
		t.Errorf("consent page names the app %q, want the loopback form %q", title, u.Host)
	}
	if note := get(t, ctx, chromedp.Text(chromedp.ID("loopback-note"))); !strings.Contains(note, "Runs on your computer") {
		t.Errorf("loopback note = %q", note)
	}
	if limit := get(t, ctx, chromedp.Text(chromedp.ID("limit"))); limit != "No limit" {
		t.Errorf("limit shown = %q, want No limit", limit)
	}
	screenshot(t, ctx, "consent-page.png")

	do(t, ctx, chromedp.Click(chromedp.ID("approve")))
	q := cb.wait(t, ctx)
	if q.Get("code") == "" || q.Has("error") {
		t.Fatalf("callback query = %v, want a code", q)
	}
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("done")))
	if landed := get(t, ctx, chromedp.Location()); !strings.HasPrefix(landed, callback+"?code=") {
		t.Errorf("the browser landed on %s, want %s?code=…", landed, callback)
	}
	data := exchangeAndUse(t, e, q.Get("code"), verifier)
	if data["label"] != u.Host || data["limit"] != nil {
		t.Errorf("key label %v limit %v, want %q and no limit", data["label"], data["limit"], u.Host)
	}

	// A second request in the same browser: the session cookie skips the
	// sign-in form and goes straight to consent.
	verifier2 := pkce.NewVerifier()
	authURL2 := sdkAuthorizationURL(t, ctx, e.srv.URL, callback, pkce.ChallengeS256(verifier2))
	do(t, ctx, chromedp.Navigate(authURL2), chromedp.WaitVisible(chromedp.ID("approve")))
	if n := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("input[type=password]").length`)); n != 0 {
		t.Error("the second request showed the sign-in form again")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("approve")))
	q = cb.wait(t, ctx)
	exchangeAndUse(t, e, q.Get("code"), verifier2)
}

func TestBrowserDeny(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t)
	cb := newCallbackServer(t)
	callback := cb.url("/cb?app=1")
	authURL := e.srv.URL + "/auth?" + url.Values{
		"callback_url": {callback}, "code_challenge": {C1}, "code_challenge_method": {"S256"},
		"state": {"st+1 /="}, "limit": {"12.5"}, "usage_limit_type": {"daily"},
	}.Encode()
	do(t, ctx, chromedp.Navigate(authURL), signIn("alice@example.com"))
	if limit := get(t, ctx, chromedp.Text(chromedp.ID("limit"))); !strings.Contains(limit, "$12.50") || !strings.Contains(limit, "every day") {
		t.Errorf("limit shown = %q, want $12.50 resetting daily", limit)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("deny")))
	q := cb.wait(t, ctx)
	want := url.Values{"app": {"1"}, "error": {"access_denied"}, "state": {"st+1 /="}}
	if q.Encode() != want.Encode() {
		t.Errorf("callback query = %v, want %v", q, want)
	}
}

func TestBrowserInvalidCallback(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t)
	cb := newCallbackServer(t)
	// http on a non-loopback host is refused; the page must not redirect,
	// not even to a loopback look-alike of the callback server.
	authURL := e.srv.URL + "/auth?" + url.Values{
		"callback_url":   {"http://localhost.evil.example:" + strings.TrimPrefix(cb.url(""), "http://localhost:") + "/cb"},
		"code_challenge": {C1}, "code_challenge_method": {"S256"},
	}.Encode()
	do(t, ctx, chromedp.Navigate(authURL))
	heading := get(t, ctx, chromedp.Text(chromedp.ID("heading")))
	message := get(t, ctx, chromedp.Text(chromedp.ID("message")))
	if !strings.Contains(heading, "not valid") || !strings.Contains(message, "callback_url") {
		t.Errorf("page says %q / %q, want an invalid request naming callback_url", heading, message)
	}
	if landed := get(t, ctx, chromedp.Location()); landed != authURL {
		t.Errorf("the browser went to %s, want to stay on %s", landed, authURL)
	}
	if n := get(t, ctx, chromedp.Evaluate[int](`document.forms.length`)); n != 0 {
		t.Error("the error page offers a form (sign-in or consent)")
	}
	select {
	case q := <-cb.hits:
		t.Errorf("the callback server was reached: %v", q)
	default:
	}
}

func TestBrowserHeadless(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t)
	verifier := pkce.NewVerifier()
	authURL := e.srv.URL + "/auth?" + url.Values{
		"code_challenge": {pkce.ChallengeS256(verifier)}, "code_challenge_method": {"S256"}, "key_label": {"laptop CLI"},
	}.Encode()
	do(t, ctx, chromedp.Navigate(authURL), signIn("alice@example.com"))
	if note := get(t, ctx, chromedp.Text(chromedp.ID("headless-note"))); !strings.Contains(note, "one-time code") {
		t.Errorf("headless note = %q", note)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("code")))
	code := get(t, ctx, chromedp.Value(chromedp.ID("code")))
	// The copy button is hidden until /static/copy.js enables it: visible
	// means the script ran under the page's CSP.
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("copy")))
	screenshot(t, ctx, "headless-code-page.png")
	data := exchangeAndUse(t, e, code, verifier)
	if data["label"] != "laptop CLI" {
		t.Errorf("key label = %v, want laptop CLI", data["label"])
	}
}
