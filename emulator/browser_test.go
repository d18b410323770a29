package emulator_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate/browsertest"

	"github.com/keygate/keygate/emulator"
	"github.com/keygate/keygate/keygatetest"
	"github.com/keygate/keygate/pkce"
)

// newBrowser starts a fresh headless Chromium for t (browsertest.New).
func newBrowser(t *testing.T) context.Context { return browsertest.New(t) }

// app is a web app with a "Sign in with OpenRouter" button, pointed at
// the emulator as its OpenRouter: it sends the browser to /auth with a
// PKCE challenge and a state, and on the callback exchanges the code on
// its server and reads the key's label.
type app struct {
	srv        *httptest.Server
	openRouter string
	mu         sync.Mutex
	verifiers  map[string]string // by state
}

func newApp(t *testing.T, openRouter string) *app {
	a := &app{openRouter: openRouter, verifiers: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form action="/login"><button id="sign-in-openrouter">Sign in with OpenRouter</button></form>`)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		verifier, state := pkce.NewVerifier(), pkce.NewVerifier()[:16]
		a.mu.Lock()
		a.verifiers[state] = verifier
		a.mu.Unlock()
		http.Redirect(w, r, a.openRouter+"/auth?"+url.Values{
			"callback_url": {a.url("/callback")}, "code_challenge": {pkce.ChallengeS256(verifier)},
			"code_challenge_method": {"S256"}, "state": {state},
		}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a.mu.Lock()
		verifier := a.verifiers[q.Get("state")]
		a.mu.Unlock()
		if q.Get("error") != "" || verifier == "" {
			page(w, `<p id="result">Access was denied</p>`)
			return
		}
		body, _ := json.Marshal(map[string]string{"code": q.Get("code"), "code_verifier": verifier, "code_challenge_method": "S256"})
		res, err := http.Post(a.openRouter+"/api/v1/auth/keys", "application/json", strings.NewReader(string(body)))
		if err != nil {
			page(w, `<p id="result">exchange failed</p>`)
			return
		}
		var out struct{ Key string }
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		req, _ := http.NewRequest("GET", a.openRouter+"/api/v1/key", nil)
		req.Header.Set("Authorization", "Bearer "+out.Key)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			page(w, `<p id="result">key lookup failed</p>`)
			return
		}
		var key struct{ Data struct{ Label string } }
		json.NewDecoder(res.Body).Decode(&key)
		res.Body.Close()
		page(w, `<p id="result">Signed in with key `+html.EscapeString(key.Data.Label)+`</p>`)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// url is the app's URL on "localhost", so that the emulator (on
// 127.0.0.1) and the app are different sites, as in life.
func (a *app) url(path string) string {
	u, _ := url.Parse(a.srv.URL)
	return "http://localhost:" + u.Port() + path
}

func page(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(`<!doctype html><title>App</title>` + body))
}

// TestBrowserSignInButton clicks an app's "Sign in with OpenRouter" button
// in headless Chromium against the emulator in each approve mode: at once
// (auto), refused (deny), and through the real sign-in and consent pages
// (ask).
func TestBrowserSignInButton(t *testing.T) {
	tests := []struct {
		mode emulator.Mode
		want string
	}{
		{emulator.ModeAuto, "Signed in with key localhost:"},
		{emulator.ModeDeny, "Access was denied"},
		{emulator.ModeAsk, "Signed in with key localhost:"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			srv := keygatetest.New(t, keygatetest.WithApprove(tt.mode))
			a := newApp(t, srv.URL)
			ctx := newBrowser(t)
			steps := []chromedp.Action[chromedp.Void]{
				chromedp.Navigate(a.url("/")),
				chromedp.Click(chromedp.ID("sign-in-openrouter")),
			}
			if tt.mode == emulator.ModeAsk {
				steps = append(steps,
					chromedp.WaitVisible(chromedp.ID("email")),
					chromedp.SendKeys(chromedp.ID("email"), emulator.DevEmail),
					chromedp.SendKeys(chromedp.ID("password"), srv.Emulator.DevPassword()),
					chromedp.Click(chromedp.ID("sign-in")),
					chromedp.WaitVisible(chromedp.ID("approve")),
					chromedp.Click(chromedp.ID("approve")),
				)
			}
			steps = append(steps, chromedp.WaitVisible(chromedp.ID("result")))
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result")))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("the app says %q, want %q…", got, tt.want)
			}
			if codes := srv.Emulator.Codes(); (tt.mode == emulator.ModeDeny) != (len(codes) == 0) {
				t.Errorf("codes recorded: %+v", codes)
			}
		})
	}
}
