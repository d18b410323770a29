package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/browsertest"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/gateway/upstreamtest"
	"github.com/keygate/keygate/pkce"
	"github.com/keygate/keygate/server"
)

// dashEnv is a keygate with a gateway in front of a scripted upstream, on
// loopback, with sign-up by invite and the real clock: what a person
// meets in a browser.
type dashEnv struct {
	t   *testing.T
	url string
	svc *keygate.Service
}

func newDashEnv(t *testing.T) *dashEnv {
	t.Helper()
	up := upstreamtest.New(func(*upstreamtest.Request) upstreamtest.Reply {
		return upstreamtest.Reply{Content: []string{"Hello"}, Usage: &upstreamtest.Usage{PromptTokens: 1000, CompletionTokens: 500}}
	})
	t.Cleanup(up.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := keygate.DefaultConfig()
	cfg.Signup = keygate.SignupInvite
	svc := keygate.NewService(openTestStore(t), cfg, keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher))
	// 1,000 prompt tokens at $1/M and 500 completion tokens at $2/M: $0.002
	// a request.
	gc, err := gateway.ParseConfig([]byte("upstreams:\n  up: {base_url: \""+up.URL+"/v1\"}\nmodels:\n  - {name: acme/chat, upstream: up, pricing: {prompt: 1.00, completion: 2.00}}\n"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(svc, gc, gateway.Options{Logger: log})
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	srv.Config.Handler = server.New(svc, server.Config{PublicURL: srv.URL, Gateway: gw.Handlers(), Price: gw.Price}, log)
	if _, err := svc.CreateUser(context.Background(), "admin@example.com", testPassword); err != nil {
		t.Fatal(err)
	}
	return &dashEnv{t: t, url: srv.URL, svc: svc}
}

// call sends an API request with key and returns the status and body.
func (d *dashEnv) call(method, path, key, body string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (d *dashEnv) chat(key string) (int, string) {
	return d.call("POST", "/api/v1/chat/completions", key, `{"model":"acme/chat","messages":[{"role":"user","content":"hi"}]}`)
}

// approve runs an app's sign-in in the browser, signed in already: the
// /auth request, the consent page, Approve; it exchanges the code and
// returns the key.
func (d *dashEnv) approve(ctx context.Context, cb *callbackServer, checkConsent bool) string {
	t := d.t
	t.Helper()
	verifier := pkce.NewVerifier()
	authURL := d.url + "/auth?" + url.Values{"callback_url": {cb.url("/callback")}, "code_challenge": {pkce.ChallengeS256(verifier)},
		"code_challenge_method": {"S256"}, "key_label": {"Notes app"}}.Encode()
	do(t, ctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("approve")))
	if checkConsent {
		browsertest.CheckPage(t, ctx, "consent")
	}
	do(t, ctx, chromedp.Click(chromedp.ID("approve")))
	q := cb.wait(t, ctx)
	res, err := http.Post(d.url+"/api/v1/auth/keys", "application/json",
		strings.NewReader(`{"code":"`+q.Get("code")+`","code_verifier":"`+verifier+`","code_challenge_method":"S256"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Key string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Key == "" {
		t.Fatalf("exchange: %v %d", err, res.StatusCode)
	}
	return out.Key
}

// signInAt fills in the sign-in form the browser shows and waits for the
// element with id next.
func signInAt(email, password, next string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID(next)),
	)
}

// TestBrowserDashboard: a person invited by an admin signs up, approves an
// app, finds its key from the home page, sees what it spent through the
// gateway, caps it until the gateway refuses, disables, enables and
// deletes it, revokes an app's keys and changes their password; every
// page passes axe-core at desktop and phone widths.
func TestBrowserDashboard(t *testing.T) {
	ctx := browsertest.New(t)
	d := newDashEnv(t)
	cb := newCallbackServer(t)

	// The admin makes an invite.
	do(t, ctx, chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(chromedp.ID("sign-in")))
	browsertest.CheckPage(t, ctx, "home-signed-out")
	do(t, ctx, chromedp.Click(chromedp.ID("sign-in")))
	browsertest.CheckPage(t, ctx, "sign-in")
	do(t, ctx, signInAt("admin@example.com", testPassword, "stat-keys"),
		chromedp.Navigate(d.url+"/admin/users"), chromedp.WaitVisible(chromedp.ID("create-invite")))
	browsertest.CheckPage(t, ctx, "admin-users")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("note"), "Ann"), chromedp.Click(chromedp.ID("create-invite")), chromedp.WaitVisible(chromedp.ID("copy")))
	browsertest.CheckPage(t, ctx, "invite-link")
	invite := get(t, ctx, chromedp.Value(chromedp.ID("link")))
	if !strings.HasPrefix(invite, d.url+"/signup?invite=") {
		t.Fatalf("invite link = %q", invite)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("nav-sign-out")), chromedp.WaitVisible(chromedp.ID("email")))

	// Ann signs up through it, lands home, signs out and in again.
	do(t, ctx, chromedp.Navigate(invite), chromedp.WaitVisible(chromedp.ID("create-account")))
	browsertest.CheckPage(t, ctx, "signup")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "ann@example.com"), chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("create-account")), chromedp.WaitVisible(chromedp.ID("no-keys")))
	browsertest.CheckPage(t, ctx, "home-empty")
	do(t, ctx, chromedp.Navigate(d.url+"/settings/keys"), chromedp.WaitVisible(chromedp.ID("empty")))
	browsertest.CheckPage(t, ctx, "keys-empty")
	do(t, ctx, chromedp.Click(chromedp.ID("nav-sign-out")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.Navigate(d.url+"/login?return_to=%2F"), signInAt("ann@example.com", testPassword, "stat-keys"))

	// Ann approves an app, then finds its key from the home page.
	key := d.approve(ctx, cb, true)
	do(t, ctx, chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(chromedp.ID("recent-keys")))
	browsertest.CheckPage(t, ctx, "home")
	do(t, ctx, chromedp.Click(chromedp.ID("all-keys")), chromedp.WaitVisible(chromedp.CSS("a.key-link")))
	browsertest.CheckPage(t, ctx, "keys")
	if row := get(t, ctx, chromedp.Text(chromedp.CSS("table.keys tbody tr"))); !strings.Contains(row, "Notes app") || !strings.Contains(row, "localhost:") {
		t.Errorf("the key's row = %q, want its name and its app", row)
	}

	// It spends through the gateway; the key's page shows the spending.
	for range 3 {
		if status, body := d.chat(key); status != http.StatusOK {
			t.Fatalf("chat = %d %s", status, body)
		}
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("a.key-link")), chromedp.WaitVisible(chromedp.ID("chart")))
	browsertest.CheckPage(t, ctx, "key")
	if usage := get(t, ctx, chromedp.Text(chromedp.ID("key-usage"))); !strings.Contains(usage, "$0.006 today") {
		t.Errorf("the key's usage reads %q, want $0.006 today", usage)
	}
	if n := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#generations tbody tr").length`)); n != 3 {
		t.Errorf("the key's page lists %d requests, want 3", n)
	}

	// Lower the limit: $0.01 still serves, $0.005 is spent already.
	for _, step := range []struct {
		limit  string
		status int
	}{{"0.01", http.StatusOK}, {"0.005", http.StatusForbidden}} {
		do(t, ctx, chromedp.Clear(chromedp.ID("limit")), chromedp.SendKeys(chromedp.ID("limit"), step.limit), chromedp.Click(chromedp.ID("save")))
		// The page before the save may show a notice already: wait for
		// the saved limit instead.
		waitText(t, ctx, "key-limit", "$"+step.limit)
		if status, body := d.chat(key); status != step.status {
			t.Fatalf("chat with the limit at $%s = %d %s, want %d", step.limit, status, body, step.status)
		} else if status == http.StatusForbidden && !strings.Contains(body, "Key limit exceeded") {
			t.Errorf("403 body %s, want Key limit exceeded", body)
		}
	}
	if line := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#limit-line").length`)); line != 1 {
		t.Error("the chart draws no limit line")
	}

	// Disable: the API refuses the key; enable: it answers again.
	do(t, ctx, chromedp.Click(chromedp.ID("disable")), chromedp.WaitVisible(chromedp.ID("enable")))
	if status, _ := d.call("GET", "/api/v1/key", key, ""); status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/key with the key disabled = %d, want 401", status)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("enable")), chromedp.WaitVisible(chromedp.ID("disable")))
	if status, _ := d.call("GET", "/api/v1/key", key, ""); status != http.StatusOK {
		t.Errorf("GET /api/v1/key with the key enabled = %d, want 200", status)
	}

	// Delete, after a confirmation step.
	do(t, ctx, chromedp.Click(chromedp.ID("delete")), chromedp.WaitVisible(chromedp.ID("confirm-delete")))
	browsertest.CheckPage(t, ctx, "key-delete")
	do(t, ctx, chromedp.Click(chromedp.ID("confirm-delete")), chromedp.WaitVisible(chromedp.ID("notice")))
	if status, _ := d.call("GET", "/api/v1/key", key, ""); status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/key with the key deleted = %d, want 401", status)
	}

	// A key made by hand, shown once with a copy button.
	do(t, ctx, chromedp.Click(chromedp.ID("new-key")), chromedp.WaitVisible(chromedp.ID("create")))
	browsertest.CheckPage(t, ctx, "key-new")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("name"), "laptop"), chromedp.SendKeys(chromedp.ID("limit"), "1"),
		chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("copy")))
	browsertest.CheckPage(t, ctx, "key-created")
	if secret := get(t, ctx, chromedp.Value(chromedp.ID("secret"))); !keygate.WellFormedKey(secret) {
		t.Errorf("the new key reads %q", secret)
	} else if status, _ := d.call("GET", "/api/v1/key", secret, ""); status != http.StatusOK {
		t.Errorf("GET /api/v1/key with the key made by hand = %d", status)
	}

	// The app gets a key again; revoking the app's keys stops it.
	key = d.approve(ctx, cb, false)
	do(t, ctx, chromedp.Navigate(d.url+"/settings/apps"), chromedp.WaitVisible(chromedp.ID("apps")))
	browsertest.CheckPage(t, ctx, "apps")
	do(t, ctx, chromedp.Click(chromedp.CSS("button[id^=revoke-]")), chromedp.WaitVisible(chromedp.ID("notice")))
	if status, _ := d.chat(key); status != http.StatusUnauthorized {
		t.Errorf("chat with a revoked app's key = %d, want 401", status)
	}

	// A new password: the old one no longer signs in.
	do(t, ctx, chromedp.Navigate(d.url+"/settings/account"), chromedp.WaitVisible(chromedp.ID("change-password")))
	browsertest.CheckPage(t, ctx, "account")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("current_password"), testPassword), chromedp.SendKeys(chromedp.ID("password"), "Ann's new passphrase"),
		chromedp.Click(chromedp.ID("change-password")), chromedp.WaitVisible(chromedp.ID("notice")))
	if _, err := d.svc.Login(context.Background(), "ann@example.com", testPassword); err == nil {
		t.Error("the old password still signs in")
	}
	if _, err := d.svc.Login(context.Background(), "ann@example.com", "Ann's new passphrase"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	// Still signed in in this browser.
	do(t, ctx, chromedp.Navigate(d.url+"/settings/keys"), chromedp.WaitVisible(chromedp.ID("new-key")))

	// A password reset link made by the admin.
	admin, _ := d.svc.UserByEmail(context.Background(), "admin@example.com")
	ann, _ := d.svc.UserByEmail(context.Background(), "ann@example.com")
	token, _, err := d.svc.CreatePasswordReset(context.Background(), admin, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(d.url+"/reset?token="+token), chromedp.WaitVisible(chromedp.ID("set-password")))
	browsertest.CheckPage(t, ctx, "reset")

	// The admin's view of every app.
	do(t, ctx, chromedp.Navigate(d.url+"/login"), chromedp.WaitVisible(chromedp.ID("to-keys")), chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.ID("email")), chromedp.Navigate(d.url+"/login?return_to=%2Fadmin%2Fapps"),
		signInAt("admin@example.com", testPassword, "admin-apps"))
	browsertest.CheckPage(t, ctx, "admin-apps")
	// The deleted key took its counters with it; the key left is revoked.
	if row := get(t, ctx, chromedp.Text(chromedp.CSS("#admin-apps tbody tr"))); !strings.Contains(row, "localhost:") || !strings.Contains(row, "0 of 1") {
		t.Errorf("the admin's row of the app = %q, want its one key, revoked", row)
	}
}

// waitText waits until the element with id shows text containing want,
// failing after ten seconds.
func waitText(t *testing.T, ctx context.Context, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err == nil && strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("#%s reads %q (%v), want %q", id, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
