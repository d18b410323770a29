package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/browsertest"
	"github.com/keygate/keygate/idtoken/idptest"
	"github.com/keygate/keygate/pkce"
	"github.com/keygate/keygate/server"
)

// oidcEnv is a keygate whose sign-in page offers an upstream OpenID
// provider running on loopback, with alice able to sign in at both.
type oidcEnv struct {
	*env
	idp *idptest.Provider
}

func newOIDCEnv(t *testing.T, accounts keygate.UpstreamAccounts, noPassword bool) *oidcEnv {
	t.Helper()
	idp := idptest.New(t)
	idp.AddClient("keygate-client", "client-secret")
	idp.AddUser(idptest.User{Name: "alice", Subject: "alice-at-idp", Email: "alice@example.com", EmailVerified: true})
	// Claims alice's email without the provider vouching for it.
	idp.AddUser(idptest.User{Name: "mallory", Subject: "mallory-at-idp", Email: "alice@example.com"})
	idp.AddUser(idptest.User{Name: "carol", Subject: "carol-at-idp", Email: "carol@example.com", EmailVerified: true})

	db := openTestStore(t)
	clk := &clock{t: timeNow()}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithClock(clk.Now), keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher))
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	srv.Config.Handler = server.New(svc, server.Config{PublicURL: srv.URL, NoPasswordLogin: noPassword, OIDC: []server.OIDCProvider{{
		Name: "Test IdP", Issuer: idp.URL, ClientID: "keygate-client", ClientSecret: "client-secret", Accounts: accounts,
	}}}, log)
	e := &env{t: t, srv: srv, svc: svc, store: db, clock: clk, logs: logs}
	e.user, e.userKey = e.newUser("alice@example.com", false)
	return &oidcEnv{env: e, idp: idp}
}

// httpSignIn goes through the flow as a browser without script would:
// keygate's link to the provider, the provider's login form for user,
// back to keygate's callback. It returns the last answer and the client,
// whose cookie jar holds keygate's session if one was made.
func (e *oidcEnv) httpSignIn(t *testing.T, user string) (*http.Response, string, *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(e.srv.URL + "/login/oidc/0?return_to=" + url.QueryEscape("/auth?callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Request.URL.String(), e.idp.URL+"/authorize?") {
		t.Fatalf("GET /login/oidc/0 ended at %d %s, want the provider's login page", res.StatusCode, res.Request.URL)
	}
	form := url.Values{}
	for k, v := range res.Request.URL.Query() {
		form.Set(k, v[0])
	}
	form.Set("username", user)
	res, err = c.PostForm(e.idp.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body), c
}

func timeNow() time.Time { return time.Now().UTC().Truncate(time.Second) }

// TestOIDCSignInRules: a verified email links to the account, an
// unverified one never does, accounts are created only when allowed, and
// a linked identity signs in without any rule.
func TestOIDCSignInRules(t *testing.T) {
	t.Run("verified-email-linked", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, false)
		res, body, _ := e.httpSignIn(t, "alice")
		if res.StatusCode != 200 || !strings.Contains(body, "id=\"approve\"") {
			t.Fatalf("sign-in ended at %d %s:\n%s", res.StatusCode, res.Request.URL, body)
		}
		if res.Request.URL.Path != "/auth" {
			t.Errorf("sign-in came back to %s, want the /auth request", res.Request.URL)
		}
	})
	t.Run("unverified-email-never-linked", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true, CreateAccounts: true}, false)
		res, body, c := e.httpSignIn(t, "mallory")
		if res.StatusCode != 403 || !strings.Contains(body, "No keygate account is linked") {
			t.Fatalf("mallory's sign-in = %d:\n%s", res.StatusCode, body)
		}
		if r, _ := c.Get(e.srv.URL + "/login"); r != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if strings.Contains(string(b), "alice@example.com") {
				t.Error("mallory is signed in as alice")
			}
		}
	})
	t.Run("not-created-unless-allowed", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, false)
		if res, body, _ := e.httpSignIn(t, "carol"); res.StatusCode != 403 {
			t.Fatalf("carol's sign-in = %d:\n%s", res.StatusCode, body)
		}
		if _, err := e.svc.UserByEmail(t.Context(), "carol@example.com"); keygate.ErrorCode(err) != keygate.ENOTFOUND {
			t.Errorf("carol's account: %v, want none", err)
		}
	})
	t.Run("created-when-allowed", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{CreateAccounts: true}, false)
		if res, body, _ := e.httpSignIn(t, "carol"); res.StatusCode != 200 || !strings.Contains(body, "approve") {
			t.Fatalf("carol's sign-in = %d:\n%s", res.StatusCode, body)
		}
		if _, err := e.svc.UserByEmail(t.Context(), "carol@example.com"); err != nil {
			t.Errorf("carol's account: %v", err)
		}
	})
	t.Run("nonce-mismatch", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, false)
		e.idp.SetNonce("a-nonce-of-another-flow")
		if res, body, _ := e.httpSignIn(t, "alice"); res.StatusCode != 403 || !strings.Contains(body, "could not be verified") {
			t.Fatalf("sign-in with another nonce = %d:\n%s", res.StatusCode, body)
		}
	})
	t.Run("state-mismatch", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, false)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Get(e.srv.URL + "/login/oidc/0")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		to, _ := url.Parse(res.Header.Get("Location"))
		q := to.Query()
		if q.Get("state") == "" || q.Get("nonce") == "" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			t.Fatalf("redirect to the provider = %s: want state, nonce and an S256 challenge", to)
		}
		for name, query := range map[string]string{
			"wrong-state":   "code=x&state=" + url.QueryEscape(q.Get("state")+"x"),
			"no-state":      "code=x",
			"right-but-old": "code=x&state=" + url.QueryEscape(q.Get("state")), // the first try clears the cookie
		} {
			res, err := c.Get(e.srv.URL + "/login/oidc/callback?" + query)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 403 {
				t.Errorf("%s: callback = %d, want 403", name, res.StatusCode)
			}
		}
	})
	t.Run("password-off", func(t *testing.T) {
		e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, true)
		page := e.do("GET", "/login", nil)
		if strings.Contains(string(page.body), `id="password"`) || !strings.Contains(string(page.body), "Sign in with Test IdP") {
			t.Errorf("sign-in page with passwords off:\n%s", page.body)
		}
		r := e.do("POST", "/login", "email=alice%40example.com&password=correct+horse+battery+staple", "Content-Type", "application/x-www-form-urlencoded", "Origin", e.srv.URL)
		if r.status != 403 || r.header.Get("Set-Cookie") != "" && strings.Contains(r.header.Get("Set-Cookie"), "keygate_session=") {
			t.Errorf("POST /login with passwords off = %d %v", r.status, r.header)
		}
	})
}

// TestBrowserOIDCSignIn: in Chromium, "Sign in with Test IdP" on keygate's
// sign-in page, the provider's login, back to the consent page of the app's
// /auth request, Approve, and the app's callback gets a code that
// exchanges for a key of alice's.
func TestBrowserOIDCSignIn(t *testing.T) {
	ctx := browsertest.New(t)
	e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, false)
	cb := newCallbackServer(t)
	verifier := pkce.NewVerifier()
	authURL := e.srv.URL + "/auth?callback_url=" + url.QueryEscape(cb.url("/callback")) + "&code_challenge=" + pkce.ChallengeS256(verifier) + "&code_challenge_method=S256"

	do(t, ctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.CSS(`a[href^="/login/oidc/0"]`)))
	browsertest.CheckPage(t, ctx, "login-with-provider")
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href^="/login/oidc/0"]`)),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.Click(chromedp.ID("idp-sign-in")),
		chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.Click(chromedp.ID("approve")),
	)
	q := cb.wait(t, ctx)
	data := exchangeAndUse(t, e.env, q.Get("code"), verifier)
	if data["creator_user_id"] != e.user.ID {
		t.Errorf("the key is %v's, want alice's %s", data["creator_user_id"], e.user.ID)
	}
}

// TestBrowserOIDCUnverifiedEmail: mallory, whose email (alice's) the
// provider does not vouch for, gets a refusal page and no session.
func TestBrowserOIDCUnverifiedEmail(t *testing.T) {
	ctx := browsertest.New(t)
	e := newOIDCEnv(t, keygate.UpstreamAccounts{LinkByEmail: true}, false)
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/login"),
		chromedp.Click(chromedp.CSS(`a[href^="/login/oidc/0"]`)),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "mallory"),
		chromedp.Click(chromedp.ID("idp-sign-in")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if msg := get(t, ctx, chromedp.Text(chromedp.ID("message"))); !strings.Contains(msg, "No keygate account is linked") {
		t.Errorf("refusal page says %q", msg)
	}
	browsertest.CheckPage(t, ctx, "oidc-refused")
	// Not signed in: /login shows the sign-in form, not alice's account.
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("password")))
}
