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

func withSignup(p keygate.SignupPolicy) envOption {
	return func(c *keygate.Config) { c.Signup = p }
}

var formTokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// preSessionForm GETs a pre-session form (sign-up, reset) and returns its
// status, its form token and its cookie ("name=value").
func (e *env) preSessionForm(path, cookieName string) (int, string, string) {
	e.t.Helper()
	r := e.browse("GET", path, nil, nil)
	m := formTokenRE.FindSubmatch(r.body)
	c := r.cookie(cookieName)
	if r.status != http.StatusOK || m == nil || c == nil {
		return r.status, "", ""
	}
	return r.status, string(m[1]), cookieName + "=" + c.Value
}

// signUp GETs the sign-up form for invite and posts it.
func (e *env) signUp(invite, email, password string) *response {
	e.t.Helper()
	path := "/signup"
	if invite != "" {
		path += "?invite=" + url.QueryEscape(invite)
	}
	status, token, cookie := e.preSessionForm(path, "keygate_signup")
	if status != http.StatusOK {
		e.t.Fatalf("GET %s = %d, want the form", path, status)
	}
	return e.browse("POST", "/signup", url.Values{"form_token": {token}, "email": {email}, "password": {password}, "invite": {invite}}, []string{cookie})
}

func TestSignupClosed(t *testing.T) {
	e := newEnv(t)
	if r := e.browse("GET", "/login", nil, nil); strings.Contains(string(r.body), `id="to-signup"`) {
		t.Error("the sign-in page of a closed keygate links to /signup")
	}
	if r := e.browse("GET", "/signup", nil, nil); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "Sign-up is closed") {
		t.Errorf("GET /signup (closed) = %d, want 403 saying sign-up is closed", r.status)
	}
	// Even with a form token, the service refuses.
	r := e.browse("POST", "/signup", url.Values{"form_token": {"t"}, "email": {"x@example.com"}, "password": {testPassword}}, []string{"keygate_signup=t"})
	if r.status != http.StatusForbidden {
		t.Errorf("POST /signup (closed) = %d, want 403", r.status)
	}
	if _, err := e.svc.UserByEmail(context.Background(), "x@example.com"); err == nil {
		t.Error("a closed sign-up created a user")
	}
}

func TestSignupOpen(t *testing.T) {
	e := newEnv(t, withSignup(keygate.SignupOpen))
	if r := e.browse("GET", "/", nil, nil); !strings.Contains(string(r.body), `id="sign-up"`) {
		t.Error("the home page of an open keygate does not link to /signup")
	}
	if r := e.browse("GET", "/login", nil, nil); !strings.Contains(string(r.body), `id="to-signup"`) {
		t.Error("the sign-in page of an open keygate does not link to /signup")
	}
	r := e.signUp("", "new@example.com", "short")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "password must be at least 8 characters") || !strings.Contains(string(r.body), `value="new@example.com"`) {
		t.Errorf("sign-up with a short password = %d, want 400 naming password with the email kept:\n%s", r.status, r.body)
	}
	if r := e.signUp("", "alice@example.com", testPassword); r.status != http.StatusConflict {
		t.Errorf("sign-up with a taken email = %d, want 409", r.status)
	}
	r = e.signUp("", "new@example.com", testPassword)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" || r.cookie("keygate_session") == nil {
		t.Fatalf("sign-up = %d %q, want 303 home with a session", r.status, r.header.Get("Location"))
	}
	home := e.browse("GET", "/", nil, []string{"keygate_session=" + r.cookie("keygate_session").Value})
	if !strings.Contains(string(home.body), "new@example.com") || !strings.Contains(string(home.body), `id="no-keys"`) {
		t.Errorf("home after sign-up lacks the user and the empty state:\n%s", home.body)
	}
	// Without the form token, or with another one, nothing is created.
	status, token, cookie := e.preSessionForm("/signup", "keygate_signup")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	for _, tt := range []struct{ token, cookie string }{{"", cookie}, {token, ""}, {"x" + token[1:], cookie}} {
		r := e.browse("POST", "/signup", url.Values{"form_token": {tt.token}, "email": {"csrf@example.com"}, "password": {testPassword}}, []string{tt.cookie})
		if r.status != http.StatusForbidden {
			t.Errorf("POST /signup with token %.4q and cookie %.20q = %d, want 403", tt.token, tt.cookie, r.status)
		}
	}
	if _, err := e.svc.UserByEmail(context.Background(), "csrf@example.com"); err == nil {
		t.Error("a sign-up without its form token created a user")
	}
}

// invite makes an invite through /admin/invites as alice and returns its
// token.
func (e *env) invite(cookie, formToken string) string {
	e.t.Helper()
	r := e.post("/admin/invites", cookie, formToken, "note", "for Ann")
	m := regexp.MustCompile(`/signup\?invite=([A-Za-z0-9_-]+)`).FindSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		e.t.Fatalf("POST /admin/invites = %d, want a page with the link:\n%s", r.status, r.body)
	}
	return string(m[1])
}

func TestSignupInvite(t *testing.T) {
	e := newEnv(t, withSignup(keygate.SignupInvite))
	if r := e.browse("GET", "/signup", nil, nil); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "needs an invite") {
		t.Errorf("GET /signup without an invite = %d, want 403", r.status)
	}
	if r := e.browse("GET", "/signup?invite=made-up", nil, nil); r.status != http.StatusForbidden {
		t.Errorf("GET /signup with a made-up invite = %d, want 403", r.status)
	}
	cookie, token := e.signInAs("alice@example.com")
	invite := e.invite(cookie, token)
	if page := e.browse("GET", "/admin/users", nil, []string{cookie}); !strings.Contains(string(page.body), "for Ann") || strings.Contains(string(page.body), invite) {
		t.Error("/admin/users does not list the open invite by its note, or shows its token again")
	}
	if r := e.signUp(invite, "ann@example.com", testPassword); r.status != http.StatusSeeOther {
		t.Fatalf("sign-up with the invite = %d %s", r.status, r.body)
	}
	// Reused: the form is refused, and so is a post of the old form.
	if r := e.browse("GET", "/signup?invite="+invite, nil, nil); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "used already, has expired") {
		t.Errorf("GET /signup with a used invite = %d, want 403", r.status)
	}
	_, ftoken, fcookie := e.preSessionForm("/signup?invite="+e.invite(cookie, token), "keygate_signup")
	r := e.browse("POST", "/signup", url.Values{"form_token": {ftoken}, "email": {"ann2@example.com"}, "password": {testPassword}, "invite": {invite}}, []string{fcookie})
	if r.status != http.StatusForbidden {
		t.Errorf("POST /signup with a used invite = %d, want 403", r.status)
	}
	// Expired.
	late := e.invite(cookie, token)
	e.clock.Advance(keygate.InviteTTL)
	if r := e.browse("GET", "/signup?invite="+late, nil, nil); r.status != http.StatusForbidden {
		t.Errorf("GET /signup with an expired invite = %d, want 403", r.status)
	}
	if _, err := e.svc.UserByEmail(context.Background(), "ann2@example.com"); err == nil {
		t.Error("a used invite created a second user")
	}
}

func TestAdminPagesForbidden(t *testing.T) {
	e := newEnv(t)
	bob, _ := e.newUser("bob@example.com", false)
	cookie, token := e.signInAs(bob.Email)
	for _, path := range []string{"/admin/users"} {
		if r := e.browse("GET", path, nil, []string{cookie}); r.status != http.StatusForbidden {
			t.Errorf("GET %s as a non-admin = %d, want 403", path, r.status)
		}
		if r := e.browse("GET", path, nil, nil); r.status != http.StatusSeeOther {
			t.Errorf("GET %s signed out = %d, want 303 to sign in", path, r.status)
		}
	}
	alice, _ := e.signInAs("alice@example.com")
	for _, path := range []string{"/admin/users", "/admin/invites", "/admin/users/" + e.user.ID + "/disable", "/admin/users/" + e.user.ID + "/reset"} {
		if r := e.post(path, cookie, token, "email", "x@example.com", "password", testPassword); r.status != http.StatusForbidden {
			t.Errorf("POST %s as a non-admin = %d, want 403", path, r.status)
		}
		if r := e.post(path, alice, "", "email", "x@example.com", "password", testPassword); r.status != http.StatusForbidden {
			t.Errorf("POST %s as an admin without a form token = %d, want 403", path, r.status)
		}
		if r := e.post(path, alice, token, "email", "x@example.com", "password", testPassword); r.status != http.StatusForbidden {
			t.Errorf("POST %s as an admin with bob's form token = %d, want 403", path, r.status)
		}
	}
	if _, err := e.svc.UserByEmail(context.Background(), "x@example.com"); err == nil {
		t.Error("a refused form created a user")
	}
}

func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	cookie, token := e.signInAs("alice@example.com")
	page := e.browse("GET", "/admin/users", nil, []string{cookie})
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "alice@example.com") || !strings.Contains(string(page.body), `id="signup-policy">closed<`) {
		t.Fatalf("GET /admin/users = %d:\n%s", page.status, page.body)
	}
	if !strings.Contains(string(page.body), `id="invites-closed"`) || strings.Contains(string(page.body), `action="/admin/invites"`) {
		t.Error("/admin/users offers invite links under --signup closed")
	}
	if r := e.post("/admin/invites", cookie, token, "note", "x"); r.status != http.StatusForbidden {
		t.Errorf("POST /admin/invites under --signup closed = %d, want 403", r.status)
	}
	if r := e.post("/admin/users", cookie, token, "email", "bob@example.com", "password", testPassword); r.status != http.StatusSeeOther {
		t.Fatalf("create bob = %d %s", r.status, r.body)
	}
	if r := e.post("/admin/users", cookie, token, "email", "bob@example.com", "password", testPassword); r.status != http.StatusConflict || !strings.Contains(string(r.body), "already exists") {
		t.Errorf("create bob again = %d, want 409 on the page", r.status)
	}
	if r := e.post("/admin/users", cookie, token, "email", "carol@example.com", "password", testPassword, "admin", "1"); r.status != http.StatusSeeOther {
		t.Fatalf("create carol = %d", r.status)
	}
	bob, _ := e.svc.UserByEmail(context.Background(), "bob@example.com")
	carol, _ := e.svc.UserByEmail(context.Background(), "carol@example.com")
	if bob.IsAdmin || !carol.IsAdmin {
		t.Errorf("admin flags: bob %v, carol %v; want false, true", bob.IsAdmin, carol.IsAdmin)
	}
	bobCookie, _ := e.signInAs("bob@example.com")

	if r := e.post("/admin/users/"+e.user.ID+"/disable", cookie, token); r.status != http.StatusBadRequest {
		t.Errorf("an admin disabling themselves = %d, want 400", r.status)
	}
	if r := e.post("/admin/users/"+bob.ID+"/disable", cookie, token); r.status != http.StatusSeeOther {
		t.Fatalf("disable bob = %d", r.status)
	}
	if r := e.browse("GET", "/settings/keys", nil, []string{bobCookie}); r.status != http.StatusSeeOther {
		t.Errorf("bob's session after he was disabled = %d, want 303 to sign in", r.status)
	}
	if _, err := e.svc.Login(context.Background(), "bob@example.com", testPassword); err == nil {
		t.Error("a disabled user signs in")
	}
	if r := e.post("/admin/users/"+bob.ID+"/enable", cookie, token); r.status != http.StatusSeeOther {
		t.Fatalf("enable bob = %d", r.status)
	}
	if r := e.post("/admin/users/not-a-user/disable", cookie, token); r.status != http.StatusNotFound {
		t.Errorf("disable an unknown user = %d, want 404", r.status)
	}

	// A reset link, used once.
	r := e.post("/admin/users/"+bob.ID+"/reset", cookie, token)
	m := regexp.MustCompile(`/reset\?token=([A-Za-z0-9_-]+)`).FindSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("POST reset link = %d:\n%s", r.status, r.body)
	}
	path := "/reset?token=" + string(m[1])
	status, ftoken, fcookie := e.preSessionForm(path, "keygate_reset")
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d", path, status)
	}
	if r := e.browse("POST", "/reset", url.Values{"form_token": {ftoken}, "token": {string(m[1])}, "password": {"short"}}, []string{fcookie}); r.status != http.StatusBadRequest {
		t.Errorf("reset with a short password = %d, want 400", r.status)
	}
	if r := e.browse("POST", "/reset", url.Values{"token": {string(m[1])}, "password": {"bob's new password"}}, []string{fcookie}); r.status != http.StatusForbidden {
		t.Errorf("reset without the form token = %d, want 403", r.status)
	}
	if r := e.browse("POST", "/reset", url.Values{"form_token": {ftoken}, "token": {string(m[1])}, "password": {"bob's new password"}}, []string{fcookie}); r.status != http.StatusOK {
		t.Fatalf("reset = %d %s", r.status, r.body)
	}
	if _, err := e.svc.Login(context.Background(), "bob@example.com", "bob's new password"); err != nil {
		t.Errorf("bob's new password: %v", err)
	}
	if r := e.browse("GET", path, nil, nil); r.status != http.StatusForbidden {
		t.Errorf("GET a used reset link = %d, want 403", r.status)
	}
	if r := e.browse("POST", "/reset", url.Values{"form_token": {ftoken}, "token": {string(m[1])}, "password": {"another password"}}, []string{fcookie}); r.status != http.StatusForbidden {
		t.Errorf("POST a used reset link = %d, want 403", r.status)
	}
}

func TestChangePasswordPage(t *testing.T) {
	e := newEnv(t)
	cookie, token := e.signInAs("alice@example.com")
	other, _ := e.signInAs("alice@example.com")
	if r := e.browse("GET", "/settings/account", nil, []string{cookie}); r.status != http.StatusOK || !strings.Contains(string(r.body), `id="account-email">alice@example.com<`) {
		t.Fatalf("GET /settings/account = %d", r.status)
	}
	if r := e.post("/settings/account", cookie, "", "current_password", testPassword, "password", "a new password"); r.status != http.StatusForbidden {
		t.Errorf("change without a form token = %d, want 403", r.status)
	}
	if r := e.post("/settings/account", cookie, token, "current_password", "wrong", "password", "a new password"); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "current_password is wrong") {
		t.Errorf("change with a wrong current password = %d, want 400", r.status)
	}
	r := e.post("/settings/account", cookie, token, "current_password", testPassword, "password", "a new password")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings/account?done=password" || r.cookie("keygate_session") == nil {
		t.Fatalf("change = %d %q, want 303 with a new session", r.status, r.header.Get("Location"))
	}
	for _, old := range []string{cookie, other} {
		if r := e.browse("GET", "/settings/account", nil, []string{old}); r.status != http.StatusSeeOther {
			t.Errorf("an old session after the change = %d, want 303 to sign in", r.status)
		}
	}
	fresh := "keygate_session=" + r.cookie("keygate_session").Value
	if r := e.browse("GET", "/settings/account?done=password", nil, []string{fresh}); r.status != http.StatusOK || !strings.Contains(string(r.body), "other sessions are signed out") {
		t.Errorf("the new session = %d", r.status)
	}
	if _, err := e.svc.Login(context.Background(), "alice@example.com", "a new password"); err != nil {
		t.Errorf("sign-in with the new password: %v", err)
	}
}

func TestAdminApps(t *testing.T) {
	e := newEnv(t)
	bob, _ := e.newUser("bob@example.com", false)
	k1 := e.appKey(e.user, "https://chat.example", 5_000_000)
	k2 := e.appKey(bob, "https://chat.example", 5_000_000)
	e.appKey(bob, "https://other.example", 5_000_000)
	e.charge(k1, "gen-1", 250_000)
	e.charge(k2, "gen-2", 1_000_000)
	if _, err := e.svc.SetKeyDisabled(context.Background(), bob.ID, k2.Hash, true); err != nil {
		t.Fatal(err)
	}
	cookie, _ := e.signInAs("alice@example.com")
	r := e.browse("GET", "/admin/apps", nil, []string{cookie})
	body := string(r.body)
	if r.status != http.StatusOK {
		t.Fatalf("GET /admin/apps = %d", r.status)
	}
	// chat.example: two users, one key of two active, $1.25; listed before
	// other.example, which spent nothing.
	row := regexp.MustCompile(`(?s)https://chat.example.*?</tr>`).FindString(body)
	for _, want := range []string{"<td>2</td>", "<td>1 <span class=\"muted\">of 2</span></td>", "<td>$1.25</td>"} {
		if !strings.Contains(row, want) {
			t.Errorf("the chat.example row lacks %q:\n%s", want, row)
		}
	}
	if strings.Index(body, "https://chat.example") > strings.Index(body, "https://other.example") {
		t.Error("the app that spent more is not listed first")
	}
	bobCookie, bobToken := e.signInAs("bob@example.com")
	if r := e.browse("GET", "/admin/apps", nil, []string{bobCookie}); r.status != http.StatusForbidden {
		t.Errorf("GET /admin/apps as a non-admin = %d, want 403", r.status)
	}

	// Hide the app from the rankings, then show it again.
	_, token := e.signInAs("alice@example.com")
	cookie2, token2 := e.signInAs("alice@example.com")
	hide := "/admin/apps/" + strconv.FormatInt(*k1.AppID, 10) + "/hide"
	for _, refused := range []struct {
		what, cookie, token string
	}{{"a non-admin", bobCookie, bobToken}, {"no form token", cookie2, ""}, {"another session's token", cookie2, token}} {
		if r := e.post(hide, refused.cookie, refused.token); r.status != http.StatusForbidden {
			t.Errorf("hide with %s = %d, want 403", refused.what, r.status)
		}
	}
	if app, _ := e.store.App(context.Background(), *k1.AppID); app.Hidden {
		t.Fatal("a refused hide hid the app")
	}
	if r := e.browse("GET", "/apps/"+strconv.FormatInt(*k1.AppID, 10), nil, nil); r.status != http.StatusOK {
		t.Fatalf("GET the app's public page = %d, want 200", r.status)
	}
	if r := e.post(hide, cookie2, token2); r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/apps?done=hidden" {
		t.Fatalf("hide = %d %q", r.status, r.header.Get("Location"))
	}
	if r := e.browse("GET", "/apps/"+strconv.FormatInt(*k1.AppID, 10), nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET a hidden app's public page = %d, want 404", r.status)
	}
	if r := e.browse("GET", "/admin/apps", nil, []string{cookie2}); !strings.Contains(string(r.body), `<span class="badge disabled">hidden</span>`) {
		t.Error("/admin/apps does not show the app as hidden")
	}
	if r := e.post("/admin/apps/"+strconv.FormatInt(*k1.AppID, 10)+"/show", cookie2, token2); r.status != http.StatusSeeOther {
		t.Fatalf("show = %d", r.status)
	}
	if app, _ := e.store.App(context.Background(), *k1.AppID); app.Hidden {
		t.Error("the app is still hidden after show")
	}
	if r := e.post("/admin/apps/999999/hide", cookie2, token2); r.status != http.StatusNotFound {
		t.Errorf("hide an unknown app = %d, want 404", r.status)
	}
}

func TestAdminUsersPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range keygate.MaxUserPage + 5 {
		e.clock.Advance(time.Second) // oldest first
		if _, err := e.svc.CreateUser(ctx, "user"+strconv.Itoa(i)+"@example.com", testPassword); err != nil {
			t.Fatal(err)
		}
	}
	cookie, _ := e.signInAs("alice@example.com")
	first := string(e.browse("GET", "/admin/users", nil, []string{cookie}).body)
	second := string(e.browse("GET", "/admin/users?offset=100", nil, []string{cookie}).body)
	if !strings.Contains(first, `href="/admin/users?offset=100" id="next-users"`) || strings.Contains(first, "prev-users") {
		t.Error("the first page of 106 users does not link to the next one alone")
	}
	if !strings.Contains(second, `href="/admin/users?offset=0" id="prev-users"`) || strings.Contains(second, "next-users") ||
		!strings.Contains(second, "<td>user104@example.com") || strings.Contains(second, "<td>alice@example.com") {
		t.Error("the second page does not hold the last users with a link back")
	}
	if r := e.browse("GET", "/admin/users?offset=-5x", nil, []string{cookie}); r.status != http.StatusOK || !strings.Contains(string(r.body), "alice@example.com") {
		t.Errorf("GET /admin/users?offset=-5x = %d, want the first page", r.status)
	}
}
