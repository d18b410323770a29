package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// The account pages (docs/dashboard.md, "Accounts"): sign-up under the
// sign-up policy, a user's password, reset links, and the admins' users
// page. Forms before a session (sign-up, reset) carry a form token that
// is also a cookie (double submit), as the sign-in form does; forms of a
// session carry the session's.

const (
	signupCookie = "keygate_signup"
	resetCookie  = "keygate_reset"
)

// mountAccounts registers the account pages on mux; passwords guards the
// handlers that check or set a password (the sign-in rate limit).
func (b *browser) mountAccounts(mux *http.ServeMux, passwords func(pageHandler) pageHandler) {
	mux.Handle("GET /signup", b.page(b.signupForm))
	mux.Handle("POST /signup", b.page(passwords(b.signup)))
	mux.Handle("GET /reset", b.page(b.resetForm))
	mux.Handle("POST /reset", b.page(passwords(b.reset)))
	mux.Handle("GET /settings/account", b.page(b.account))
	mux.Handle("POST /settings/account", b.page(passwords(b.changePassword)))
	mux.Handle("GET /admin/users", b.page(b.adminUsers))
	mux.Handle("POST /admin/users", b.page(b.adminCreateUser))
	mux.Handle("POST /admin/users/{id}/disable", b.page(b.adminSetUserDisabled(true)))
	mux.Handle("POST /admin/users/{id}/enable", b.page(b.adminSetUserDisabled(false)))
	mux.Handle("POST /admin/users/{id}/reset", b.page(b.adminResetLink))
	mux.Handle("POST /admin/invites", b.page(b.adminInvite))
	mux.Handle("GET /admin/apps", b.page(b.adminApps))
	mux.Handle("POST /admin/apps/{id}/hide", b.page(b.adminSetAppHidden(true)))
	mux.Handle("POST /admin/apps/{id}/show", b.page(b.adminSetAppHidden(false)))
}

// preSessionToken returns the form token of the cookie name (Path path),
// or a fresh one, and (re)sets the cookie, as loginToken does.
func (b *browser) preSessionToken(w http.ResponseWriter, r *http.Request, name, path string) string {
	token := ""
	if c, ok := oneCookie(r, name); ok && len(c) == len(keygate.NewToken()) {
		token = c
	} else {
		token = keygate.NewToken()
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: token, Path: path, MaxAge: int(loginCookieTTL / time.Second),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteStrictMode,
	})
	return token
}

// checkPreSession checks a pre-session form's token against its cookie.
func checkPreSession(r *http.Request, form url.Values, name string) error {
	c, _ := oneCookie(r, name)
	return checkFormToken(form.Get("form_token"), c)
}

// signupForm serves GET /signup[?invite=TOKEN]: the sign-up form when the
// policy lets this visitor sign up, else a 403 page saying why.
func (b *browser) signupForm(w http.ResponseWriter, r *http.Request) error {
	invite := r.URL.Query().Get("invite")
	if err := b.canSignUp(r, invite); err != nil {
		return err
	}
	return b.showSignup(w, r, http.StatusOK, "", invite, "")
}

// canSignUp says whether the sign-up form may be offered: the policy's
// rule, and an invite that can be used when one is given. SignUp checks
// it again, in the same transaction as the account it creates.
func (b *browser) canSignUp(r *http.Request, invite string) error {
	switch b.svc.SignupPolicy() {
	case keygate.SignupClosed:
		return keygate.Errorf(keygate.EFORBIDDEN, "Sign-up is closed here: ask an admin for an account")
	case keygate.SignupInvite:
		if invite == "" {
			return keygate.Errorf(keygate.EFORBIDDEN, "Sign-up here needs an invite link from an admin")
		}
	}
	if invite != "" {
		return b.svc.CheckLink(r.Context(), keygate.LinkInvite, invite)
	}
	return nil
}

func (b *browser) showSignup(w http.ResponseWriter, r *http.Request, status int, email, invite, msg string) error {
	if keygate.CheckText("email", email, maxEmailEcho) != nil {
		email = ""
	}
	return b.pages.Signup(w, status, web.SignupPage{Email: email, Invite: invite, Error: msg,
		FormToken: b.preSessionToken(w, r, signupCookie, "/signup"), MinLength: keygate.MinPasswordLen})
}

// signup serves POST /signup through Service.SignUp, then signs the new
// user in and goes home.
func (b *browser) signup(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	email, password, invite := form.Get("email"), form.Get("password"), form.Get("invite")
	if err := checkPreSession(r, form, signupCookie); err != nil {
		return b.showSignup(w, r, http.StatusForbidden, email, invite,
			"This form expired or did not come from this site (are cookies enabled?). Please try again.")
	}
	if _, err := b.svc.SignUp(r.Context(), email, password, invite); err != nil {
		switch keygate.ErrorCode(err) {
		case keygate.EINVALID, keygate.ECONFLICT:
			return b.showSignup(w, r, HTTPStatus(err), email, invite, keygate.ErrorMessage(err)+".")
		}
		return err
	}
	token, err := b.svc.Login(r.Context(), email, password)
	if err != nil {
		return err
	}
	// The browser's previous session, if any, ends, as on a sign-in.
	if old, ok := oneCookie(r, sessionCookie); ok {
		if err := b.svc.Logout(r.Context(), old); err != nil {
			b.log.WarnContext(r.Context(), "end previous session", "err", err)
		}
	}
	b.setSessionCookie(w, token)
	b.clearCookie(w, signupCookie, "/signup")
	seeOther(w, "/")
	return nil
}

// resetForm serves GET /reset?token=…: the form of a password reset link
// that can still be used.
func (b *browser) resetForm(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if err := b.svc.CheckLink(r.Context(), keygate.LinkReset, token); err != nil {
		return err
	}
	return b.showReset(w, r, http.StatusOK, token, "")
}

func (b *browser) showReset(w http.ResponseWriter, r *http.Request, status int, token, msg string) error {
	return b.pages.Reset(w, status, web.ResetPage{Token: token, Error: msg,
		FormToken: b.preSessionToken(w, r, resetCookie, "/reset"), MinLength: keygate.MinPasswordLen})
}

// reset serves POST /reset through Service.ResetPassword.
func (b *browser) reset(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	token := form.Get("token")
	if err := checkPreSession(r, form, resetCookie); err != nil {
		return b.showReset(w, r, http.StatusForbidden, token, "This form expired or did not come from this site. Please try again.")
	}
	if _, err := b.svc.ResetPassword(r.Context(), token, form.Get("password")); keygate.ErrorCode(err) == keygate.EINVALID {
		return b.showReset(w, r, http.StatusBadRequest, token, keygate.ErrorMessage(err)+".")
	} else if err != nil {
		return err
	}
	b.clearCookie(w, resetCookie, "/reset")
	return b.pages.Notice(w, http.StatusOK, web.NoticePage{Heading: "Password set", Message: "Your new password is set. Sign in with it at /login."})
}

// account serves GET /settings/account.
func (b *browser) account(w http.ResponseWriter, r *http.Request) error {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return err
	}
	notice := ""
	if r.URL.Query().Get("done") == "password" {
		notice = "Your password is changed; your other sessions are signed out."
	}
	return b.showAccount(w, a, http.StatusOK, notice, "")
}

func (b *browser) showAccount(w http.ResponseWriter, a *account, status int, notice, msg string) error {
	return b.pages.Account(w, status, web.AccountPage{Nav: a.nav("account"), Email: a.user.Email, Created: pageTime(a.user.CreatedAt),
		Admin: a.user.IsAdmin, Notice: notice, Error: msg, MinLength: keygate.MinPasswordLen})
}

// changePassword serves POST /settings/account through
// Service.ChangePassword: every session ends, and this browser gets a new
// one.
func (b *browser) changePassword(w http.ResponseWriter, r *http.Request) error {
	a, form, err := b.postForm(w, r)
	if err != nil {
		return err
	}
	token, err := b.svc.ChangePassword(r.Context(), a.user.ID, form.Get("current_password"), form.Get("password"))
	if keygate.ErrorCode(err) == keygate.EINVALID {
		return b.showAccount(w, a, http.StatusBadRequest, "", keygate.ErrorMessage(err)+".")
	} else if err != nil {
		return err
	}
	b.setSessionCookie(w, token)
	seeOther(w, "/settings/account?done=password")
	return nil
}

// adminOrLogin is signedInOrLogin for the admins' pages: a signed-in user
// who is not an admin gets EFORBIDDEN.
func (b *browser) adminOrLogin(w http.ResponseWriter, r *http.Request) (*account, error) {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return nil, err
	}
	if err := keygate.RequireAdmin(a.user); err != nil {
		return nil, err
	}
	return a, nil
}

var adminNotices = map[string]string{
	"created":  "The user was created.",
	"disabled": "The user is disabled and signed out everywhere; their keys keep working until you disable them.",
	"enabled":  "The user can sign in again.",
}

// adminUsers serves GET /admin/users.
func (b *browser) adminUsers(w http.ResponseWriter, r *http.Request) error {
	a, err := b.adminOrLogin(w, r)
	if a == nil {
		return err
	}
	return b.showAdminUsers(w, r, a, http.StatusOK, web.AdminUsersPage{Notice: adminNotices[r.URL.Query().Get("done")]})
}

// showAdminUsers fills page with the users and open invites and renders it.
func (b *browser) showAdminUsers(w http.ResponseWriter, r *http.Request, a *account, status int, page web.AdminUsersPage) error {
	// ?offset= pages through the users, MaxUserPage at a time; anything
	// but a number is the first page.
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	users, total, err := b.svc.ListUsers(r.Context(), offset, keygate.MaxUserPage)
	if err != nil {
		return err
	}
	if offset > 0 {
		page.Prev = "/admin/users?offset=" + strconv.Itoa(max(offset-keygate.MaxUserPage, 0))
	}
	if offset+len(users) < total {
		page.Next = "/admin/users?offset=" + strconv.Itoa(offset+len(users))
	}
	invites, err := b.svc.Invites(r.Context(), a.user)
	if err != nil {
		return err
	}
	page.Nav, page.Total, page.Signup = a.nav("users"), total, string(b.svc.SignupPolicy())
	for _, u := range users {
		page.Users = append(page.Users, web.UserRow{ID: u.ID, Email: u.Email, Created: pageTime(u.CreatedAt),
			Admin: u.IsAdmin, Disabled: u.Disabled, Self: u.ID == a.user.ID})
	}
	for _, l := range invites {
		page.Invites = append(page.Invites, web.InviteRow{Note: l.Note, Created: pageTime(l.CreatedAt), Expires: pageTime(l.ExpiresAt)})
	}
	return b.pages.AdminUsers(w, status, page)
}

// adminPost is postForm for the admins' forms.
func (b *browser) adminPost(w http.ResponseWriter, r *http.Request) (*account, url.Values, error) {
	a, form, err := b.postForm(w, r)
	if err != nil {
		return nil, nil, err
	}
	if err := keygate.RequireAdmin(a.user); err != nil {
		return nil, nil, err
	}
	return a, form, nil
}

// adminCreateUser serves POST /admin/users through
// Service.AdminCreateUser.
func (b *browser) adminCreateUser(w http.ResponseWriter, r *http.Request) error {
	a, form, err := b.adminPost(w, r)
	if err != nil {
		return err
	}
	email, admin := form.Get("email"), form.Get("admin") != ""
	if _, err := b.svc.AdminCreateUser(r.Context(), a.user, email, form.Get("password"), admin); err != nil {
		switch keygate.ErrorCode(err) {
		case keygate.EINVALID, keygate.ECONFLICT:
			if keygate.CheckText("email", email, maxEmailEcho) != nil {
				email = ""
			}
			return b.showAdminUsers(w, r, a, HTTPStatus(err), web.AdminUsersPage{Error: keygate.ErrorMessage(err) + ".", Email: email, Admin: admin})
		}
		return err
	}
	seeOther(w, "/admin/users?done=created")
	return nil
}

// adminSetUserDisabled serves POST /admin/users/{id}/disable and /enable.
func (b *browser) adminSetUserDisabled(disabled bool) pageHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, _, err := b.adminPost(w, r)
		if err != nil {
			return err
		}
		if _, err := b.svc.AdminSetUserDisabled(r.Context(), a.user, r.PathValue("id"), disabled); err != nil {
			return err
		}
		done := "enabled"
		if disabled {
			done = "disabled"
		}
		seeOther(w, "/admin/users?done="+done)
		return nil
	}
}

// siteURL is the public URL of this keygate, for the links admins hand out.
func (b *browser) siteURL() string { return strings.TrimSuffix(b.apiBase, "/api/v1") }

// adminResetLink serves POST /admin/users/{id}/reset: a password reset link
// for the user, shown once.
func (b *browser) adminResetLink(w http.ResponseWriter, r *http.Request) error {
	a, _, err := b.adminPost(w, r)
	if err != nil {
		return err
	}
	token, link, err := b.svc.CreatePasswordReset(r.Context(), a.user, r.PathValue("id"))
	if err != nil {
		return err
	}
	return b.pages.LinkCreated(w, http.StatusOK, web.LinkCreatedPage{Nav: a.nav("users"), Heading: "Password reset link",
		What: "Whoever opens this link sets a new password for the account, which signs it out everywhere.",
		URL:  b.siteURL() + "/reset?token=" + url.QueryEscape(token), Expires: pageTime(link.ExpiresAt)})
}

// adminInvite serves POST /admin/invites: an invite link, shown once.
func (b *browser) adminInvite(w http.ResponseWriter, r *http.Request) error {
	a, form, err := b.adminPost(w, r)
	if err != nil {
		return err
	}
	token, link, err := b.svc.CreateInvite(r.Context(), a.user, form.Get("note"))
	if keygate.ErrorCode(err) == keygate.EINVALID {
		return b.showAdminUsers(w, r, a, http.StatusBadRequest, web.AdminUsersPage{Error: keygate.ErrorMessage(err) + "."})
	} else if err != nil {
		return err
	}
	what := "Whoever opens this link can create one account."
	return b.pages.LinkCreated(w, http.StatusOK, web.LinkCreatedPage{Nav: a.nav("users"), Heading: "Invite link",
		What: what, URL: b.siteURL() + "/signup?invite=" + url.QueryEscape(token), Expires: pageTime(link.ExpiresAt)})
}

// adminApps serves GET /admin/apps: every app that keys were minted for,
// with the totals of its keys.
func (b *browser) adminApps(w http.ResponseWriter, r *http.Request) error {
	a, err := b.adminOrLogin(w, r)
	if a == nil {
		return err
	}
	apps, err := b.svc.AdminApps(r.Context(), a.user)
	if err != nil {
		return err
	}
	page := web.AdminAppsPage{Nav: a.nav("admin-apps"), Notice: map[string]string{
		"hidden": "The app is hidden from the rankings and its public page; its usage is metered as before.",
		"shown":  "The app is shown in the rankings again.",
	}[r.URL.Query().Get("done")]}
	for _, app := range apps {
		page.Apps = append(page.Apps, web.AdminAppRow{ID: app.App.ID, App: webApp(app.App), Categories: strings.Join(app.App.Categories, ", "),
			Users: app.Users, Keys: app.Keys, Live: app.Live, Spend: formatUSD(app.Micros),
			Hidden: app.App.Hidden, Public: !app.App.Hidden && !app.App.IsLoopback})
	}
	return b.pages.AdminApps(w, http.StatusOK, page)
}

// adminSetAppHidden serves POST /admin/apps/{id}/hide and /show through
// Service.SetAppHidden (as keygate apps hide and show).
func (b *browser) adminSetAppHidden(hidden bool) pageHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, _, err := b.adminPost(w, r); err != nil {
			return err
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return keygate.Errorf(keygate.ENOTFOUND, "no such app")
		}
		if _, err := b.svc.SetAppHidden(r.Context(), id, hidden); err != nil {
			return err
		}
		done := "shown"
		if hidden {
			done = "hidden"
		}
		seeOther(w, "/admin/apps?done="+done)
		return nil
	}
}
