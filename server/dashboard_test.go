package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// signInAs starts a session for email through the service and returns
// the session cookie and the session's form token.
func (e *env) signInAs(email string) (cookie, formToken string) {
	e.t.Helper()
	token, err := e.svc.Login(context.Background(), email, testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	_, sess, err := e.svc.SessionUser(context.Background(), token)
	if err != nil {
		e.t.Fatal(err)
	}
	return "keygate_session=" + token, sess.CSRFToken
}

// appKey stores a key of user minted for the app at appURL, with a limit
// of limit micro-dollars, as an exchange stores it.
func (e *env) appKey(user *keygate.User, appURL string, limit keygate.Micros) *keygate.APIKey {
	e.t.Helper()
	ctx := context.Background()
	app, err := e.store.UpsertApp(ctx, &keygate.App{URL: appURL, Title: "Chat App", Categories: []string{"chat"}, CreatedAt: e.clock.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	ws, err := e.svc.GetWorkspace(ctx, user.ID, "default")
	if err != nil {
		e.t.Fatal(err)
	}
	k := &keygate.APIKey{Hash: keygate.HashSecret(keygate.NewKey("sk-kg-")), UserID: user.ID, WorkspaceID: ws.ID,
		AppID: &app.ID, Name: "Chat App", Label: "Chat App", Limit: &limit, LimitReset: keygate.ResetDaily, CreatedAt: e.clock.Now()}
	if err := e.store.CreateKey(ctx, k); err != nil {
		e.t.Fatal(err)
	}
	return k
}

// charge settles a generation of cost micro-dollars on k now.
func (e *env) charge(k *keygate.APIKey, id string, cost keygate.Micros) {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.svc.Reserve(ctx, k, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.Settle(ctx, r, &keygate.Generation{ID: id, Model: "acme/chat", PromptTokens: 12, CompletionTokens: 34, Cost: cost}); err != nil {
		e.t.Fatal(err)
	}
}

// post sends a dashboard form: pairs alternate names and values; the
// token is sent as form_token unless it is "".
func (e *env) post(path, cookie, token string, pairs ...string) *response {
	e.t.Helper()
	form := url.Values{}
	if token != "" {
		form.Set("form_token", token)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		form.Set(pairs[i], pairs[i+1])
	}
	return e.browse("POST", path, form, []string{cookie})
}

func (e *env) storedKey(hash string) *keygate.APIKey {
	e.t.Helper()
	k, err := e.store.Key(context.Background(), hash)
	if err != nil {
		e.t.Fatalf("Key(%s): %v", hash[:8], err)
	}
	return k
}

func TestDashboardNeedsSignIn(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/settings/keys", "/settings/keys/new", "/settings/apps", "/settings/keys/" + strings.Repeat("a", 64)} {
		r := e.browse("GET", path, nil, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?return_to="+url.QueryEscape(path) {
			t.Errorf("GET %s signed out = %d %q, want 303 to the sign-in form coming back", path, r.status, r.header.Get("Location"))
		}
		checkPageHeaders(t, r, wantCSP)
	}
	// After signing in, the browser comes back to the page it asked for.
	page := e.browse("GET", "/login?return_to=%2Fsettings%2Fkeys", nil, nil)
	m := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("sign-in form without a form token: %s", page.body)
	}
	r := e.browse("POST", "/login", url.Values{"email": {"alice@example.com"}, "password": {testPassword},
		"form_token": {string(m[1])}, "return_to": {"/settings/keys"}}, []string{"keygate_login=" + page.cookie("keygate_login").Value})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings/keys" {
		t.Errorf("POST /login with return_to=/settings/keys = %d %q, want 303 to /settings/keys", r.status, r.header.Get("Location"))
	}
}

func TestKeyDashboardPages(t *testing.T) {
	e := newEnv(t)
	k := e.appKey(e.user, "https://chat.example", 5_000_000)
	e.clock.Advance(-2 * 24 * time.Hour)
	e.charge(k, "gen-older", 1_250_000)
	e.clock.Advance(2 * 24 * time.Hour)
	e.charge(k, "gen-latest", 350_000)
	cookie, _ := e.signInAs("alice@example.com")

	home := e.browse("GET", "/", nil, []string{cookie})
	for _, want := range []string{`id="stat-month">$1.60<`, `id="stat-apps">1<`, `href="/settings/keys/` + k.Hash + `"`, `aria-current="page">Home`} {
		if !strings.Contains(string(home.body), want) {
			t.Errorf("GET / signed in lacks %q:\n%s", want, home.body)
		}
	}

	list := e.browse("GET", "/settings/keys", nil, []string{cookie})
	checkPageHeaders(t, list, wantCSP)
	body := string(list.body)
	for _, want := range []string{"Chat App", "https://chat.example", "$0.35", "$1.60", "$5.00", "daily", "$4.65", "Workspace Default", `<span class="badge active">active</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /settings/keys lacks %q", want)
		}
	}

	page := e.browse("GET", "/settings/keys/"+k.Hash, nil, []string{cookie})
	body = string(page.body)
	if page.status != http.StatusOK {
		t.Fatalf("GET key page = %d %s", page.status, body)
	}
	if n := strings.Count(body, `<rect `); n != keygate.ChartDays {
		t.Errorf("the chart has %d bars, want %d", n, keygate.ChartDays)
	}
	// The limit ($5.00) tops the chart: the line is at y=0, and the $1.25
	// day is a quarter of the 160 units high.
	for _, want := range []string{`id="limit-line"`, `y1="0"`, `height="40" class="bar"><title>2026-03-02: $1.25</title>`,
		"daily limit $5.00", "gen", "acme/chat", "<td>12</td><td>34</td><td>$0.35</td>", `action="/settings/keys/` + k.Hash + `/disable"`} {
		if !strings.Contains(body, want) {
			t.Errorf("key page lacks %q", want)
		}
	}
	if strings.Index(body, "$0.35</td>") > strings.Index(body, "$1.25</td>") {
		t.Error("the latest generation is not listed first")
	}

	// Bob sees neither Alice's key nor her app.
	bob, _ := e.newUser("bob@example.com", false)
	bobCookie, _ := e.signInAs(bob.Email)
	if r := e.browse("GET", "/settings/keys/"+k.Hash, nil, []string{bobCookie}); r.status != http.StatusNotFound {
		t.Errorf("GET alice's key page as bob = %d, want 404", r.status)
	}
	if r := e.browse("GET", "/settings/keys/"+k.Hash+"/delete", nil, []string{bobCookie}); r.status != http.StatusNotFound {
		t.Errorf("GET alice's delete page as bob = %d, want 404", r.status)
	}
	if r := e.browse("GET", "/settings/apps", nil, []string{bobCookie}); strings.Contains(string(r.body), "chat.example") {
		t.Error("bob's apps page shows alice's app")
	}
}

func TestKeyDashboardEmptyAndSorted(t *testing.T) {
	e := newEnv(t)
	carol, _ := e.newUser("carol@example.com", false)
	if err := e.svc.DeleteKey(context.Background(), carol.ID, mustOnlyKey(t, e, carol.ID)); err != nil {
		t.Fatal(err)
	}
	cookie, _ := e.signInAs(carol.Email)
	if r := e.browse("GET", "/settings/keys", nil, []string{cookie}); !strings.Contains(string(r.body), `id="empty"`) {
		t.Errorf("GET /settings/keys without keys lacks the empty state:\n%s", r.body)
	}
	for _, name := range []string{"bravo", "alpha", "charlie"} {
		e.clock.Advance(time.Minute)
		if _, _, err := e.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: carol.ID, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for sort, want := range map[string][]string{"": {"charlie", "alpha", "bravo"}, "name": {"alpha", "bravo", "charlie"}, "-name": {"charlie", "bravo", "alpha"}, "created": {"bravo", "alpha", "charlie"}} {
		body := string(e.browse("GET", "/settings/keys?sort="+sort, nil, []string{cookie}).body)
		var got []string
		for _, m := range regexp.MustCompile(`class="key-link">([a-z]+)<`).FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("GET /settings/keys?sort=%s = %v, want %v", sort, got, want)
		}
	}
}

func mustOnlyKey(t *testing.T, e *env, userID string) string {
	t.Helper()
	keys, err := e.svc.UserKeys(context.Background(), userID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("UserKeys = %d keys, %v; want 1", len(keys), err)
	}
	return keys[0].Key.Hash
}

// TestKeyActions: every action on a key, with the session's form token,
// without one, with another session's, and on another user's key.
func TestKeyActions(t *testing.T) {
	tests := []struct {
		name   string
		path   string // after /settings/keys/{hash}
		fields []string
		where  string // Location of the redirect
		check  func(e *env, k *keygate.APIKey) bool
	}{
		{"update", "", []string{"name", "renamed", "limit", "0.25", "limit_reset", "weekly", "expires", "2026-03-10"},
			"?done=saved", func(e *env, k *keygate.APIKey) bool {
				got := e.storedKey(k.Hash)
				return got.Name == "renamed" && got.Limit != nil && *got.Limit == 250_000 && got.LimitReset == keygate.ResetWeekly &&
					got.ExpiresAt != nil && got.ExpiresAt.Equal(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
			}},
		{"update-no-limit", "", []string{"name", "Chat App", "limit", "", "limit_reset", ""},
			"?done=saved", func(e *env, k *keygate.APIKey) bool {
				got := e.storedKey(k.Hash)
				return got.Limit == nil && got.ExpiresAt == nil
			}},
		{"disable", "/disable", nil, "?done=disabled", func(e *env, k *keygate.APIKey) bool { return e.storedKey(k.Hash).Disabled }},
		{"delete", "/delete", nil, "", func(e *env, k *keygate.APIKey) bool {
			_, err := e.store.Key(context.Background(), k.Hash)
			return err != nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			k := e.appKey(e.user, "https://chat.example", 5_000_000)
			path := "/settings/keys/" + k.Hash + tt.path
			cookie, token := e.signInAs("alice@example.com")
			bob, _ := e.newUser("bob@example.com", false)
			bobCookie, bobToken := e.signInAs(bob.Email)
			unchanged := func(what string) {
				t.Helper()
				if tt.check(e, k) {
					t.Fatalf("%s changed the key", what)
				}
			}
			for _, refused := range []struct {
				what          string
				cookie, token string
				status        int
			}{
				{"no form token", cookie, "", http.StatusForbidden},
				{"a wrong form token", cookie, "x" + token[1:], http.StatusForbidden},
				{"another session's form token", cookie, bobToken, http.StatusForbidden},
				{"no session", "", token, http.StatusForbidden},
				{"another user", bobCookie, bobToken, http.StatusNotFound},
			} {
				r := e.post(path, refused.cookie, refused.token, tt.fields...)
				if r.status != refused.status {
					t.Errorf("POST %s with %s = %d, want %d", tt.name, refused.what, r.status, refused.status)
				}
				unchanged(refused.what)
			}
			r := e.post(path, cookie, token, tt.fields...)
			want := "/settings/keys/" + k.Hash + tt.where
			if tt.name == "delete" {
				want = "/settings/keys?done=deleted"
			}
			if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
				t.Fatalf("POST %s = %d %q %s, want 303 to %s", tt.name, r.status, r.header.Get("Location"), r.body, want)
			}
			if !tt.check(e, k) {
				t.Errorf("POST %s: the key was not changed", tt.name)
			}
		})
	}
}

func TestKeyEnableAndAPI(t *testing.T) {
	e := newEnv(t)
	cookie, token := e.signInAs("alice@example.com")
	created := e.post("/settings/keys/new", cookie, token, "name", "laptop", "limit", "2", "limit_reset", "daily", "expires", "2026-04-01")
	secret := regexp.MustCompile(`sk-kg-v1-[0-9a-f]{64}`).FindString(string(created.body))
	if created.status != http.StatusOK || secret == "" || !strings.Contains(string(created.body), `id="once-warning"`) || !strings.Contains(string(created.body), `data-copy="secret"`) {
		t.Fatalf("POST /settings/keys/new = %d, want the key once with a copy button and a warning:\n%s", created.status, created.body)
	}
	hash := keygate.HashSecret(secret)
	k := e.storedKey(hash)
	if k.Name != "laptop" || k.Limit == nil || *k.Limit != 2_000_000 || k.LimitReset != keygate.ResetDaily || !k.ExpiresAt.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("created key = %+v, want laptop, $2 daily, expiring 2026-04-01", k)
	}
	if r := e.browse("GET", "/settings/keys/"+hash, nil, []string{cookie}); strings.Contains(string(r.body), secret) {
		t.Error("the key's page shows its secret again")
	}
	if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+secret); r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/key with the new key = %d", r.status)
	}
	e.post("/settings/keys/"+hash+"/disable", cookie, token)
	if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+secret); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/key with a disabled key = %d, want 401", r.status)
	}
	if r := e.post("/settings/keys/"+hash+"/enable", cookie, ""); r.status != http.StatusForbidden {
		t.Errorf("POST enable without a form token = %d, want 403", r.status)
	}
	if r := e.post("/settings/keys/"+hash+"/enable", cookie, token); r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings/keys/"+hash+"?done=enabled" {
		t.Errorf("POST enable = %d %q", r.status, r.header.Get("Location"))
	}
	if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+secret); r.status != http.StatusOK {
		t.Errorf("GET /api/v1/key with the key enabled again = %d, want 200", r.status)
	}
	if r := e.post("/settings/keys/new", cookie, "", "name", "x"); r.status != http.StatusForbidden {
		t.Errorf("POST /settings/keys/new without a form token = %d, want 403", r.status)
	}
}

func TestKeyFormsRefused(t *testing.T) {
	e := newEnv(t)
	cookie, token := e.signInAs("alice@example.com")
	k := e.appKey(e.user, "https://chat.example", 5_000_000)
	if _, err := e.svc.UpdateKey(context.Background(), e.user.ID, k.Hash, keygate.KeyUpdate{ExpiresAt: ptr("2026-03-20T00:00:00Z")}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		path   string
		fields []string
		msg    string
	}{
		{"limit-text", "/settings/keys/" + k.Hash, []string{"name", "n", "limit", "five"}, "limit must be an amount in USD"},
		{"limit-negative", "/settings/keys/" + k.Hash, []string{"name", "n", "limit", "-1"}, "limit must be a number &gt;= 0"},
		{"expiry-later", "/settings/keys/" + k.Hash, []string{"name", "n", "expires", "2026-03-25"}, "expires_at can only be moved earlier"},
		{"expiry-past", "/settings/keys/" + k.Hash, []string{"name", "n", "expires", "2026-03-01"}, "expires_at must be in the future"},
		{"name-empty", "/settings/keys/" + k.Hash, []string{"name", " "}, "name is required"},
		{"reset-unknown", "/settings/keys/" + k.Hash, []string{"name", "n", "limit_reset", "hourly"}, "limit_reset must be one of"},
		{"create-no-name", "/settings/keys/new", []string{"name", ""}, "name is required"},
		{"create-bad-date", "/settings/keys/new", []string{"name", "x", "expires", "tomorrow"}, "expires_at must be a date"},
	} {
		r := e.post(tt.path, cookie, token, tt.fields...)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), tt.msg) || !strings.Contains(string(r.body), `id="form-error"`) {
			t.Errorf("%s: POST = %d, want 400 with %q on the form:\n%.300s", tt.name, r.status, tt.msg, r.body)
		}
	}
	got := e.storedKey(k.Hash)
	if got.Name != "Chat App" || *got.Limit != 5_000_000 || !got.ExpiresAt.Equal(time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("refused forms changed the key: %+v", got)
	}
}

func TestRevokeAppKeys(t *testing.T) {
	e := newEnv(t)
	k1 := e.appKey(e.user, "https://chat.example", 5_000_000)
	k2 := e.appKey(e.user, "https://chat.example", 1_000_000)
	other := e.appKey(e.user, "https://other.example", 1_000_000)
	e.charge(k1, "gen-1", 10)
	cookie, token := e.signInAs("alice@example.com")
	page := e.browse("GET", "/settings/apps", nil, []string{cookie})
	for _, want := range []string{"Chat App", "https://chat.example", "chat", "2 <span class=\"muted\">of 2</span>", "$0.00001"} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("GET /settings/apps lacks %q", want)
		}
	}
	if !strings.Contains(string(page.body), `<a href="/apps/`+strconv.FormatInt(*k1.AppID, 10)+`">Chat App</a>`) {
		t.Error("/settings/apps does not link the app to its public page")
	}
	path := "/settings/apps/" + strconv.FormatInt(*k1.AppID, 10) + "/revoke"
	bob, _ := e.newUser("bob@example.com", false)
	bobCookie, bobToken := e.signInAs(bob.Email)
	if r := e.post(path, cookie, ""); r.status != http.StatusForbidden {
		t.Errorf("revoke without a form token = %d, want 403", r.status)
	}
	if r := e.post(path, cookie, bobToken); r.status != http.StatusForbidden {
		t.Errorf("revoke with bob's form token = %d, want 403", r.status)
	}
	if r := e.post(path, bobCookie, bobToken); r.status != http.StatusNotFound {
		t.Errorf("bob revoking alice's app = %d, want 404", r.status)
	}
	if r := e.post("/settings/apps/x/revoke", cookie, token); r.status != http.StatusNotFound {
		t.Errorf("revoke of app x = %d, want 404", r.status)
	}
	if e.storedKey(k1.Hash).Disabled {
		t.Fatal("a refused revoke disabled a key")
	}
	r := e.post(path, cookie, token)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings/apps?done=revoked" {
		t.Fatalf("revoke = %d %q", r.status, r.header.Get("Location"))
	}
	if !e.storedKey(k1.Hash).Disabled || !e.storedKey(k2.Hash).Disabled || e.storedKey(other.Hash).Disabled {
		t.Error("revoke did not disable exactly the app's keys")
	}
}
