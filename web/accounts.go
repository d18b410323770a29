package web

import "net/http"

// The account pages: sign-up, the user's account, a password reset link,
// and the admins' pages.

const (
	pageSignup      = "signup"
	pageAccount     = "account"
	pageReset       = "reset"
	pageAdminUsers  = "admin_users"
	pageLinkCreated = "link_created"
)

func init() {
	pageNames = append(pageNames, pageSignup, pageAccount, pageReset, pageAdminUsers, pageLinkCreated)
}

// SignupPage is the sign-up form. It posts email, password, invite and
// form_token to /signup.
type SignupPage struct {
	Nav       Nav
	Email     string
	Invite    string // the invite link's token, or ""
	Error     string
	FormToken string // pre-session form token, also set as a cookie
	MinLength int    // the shortest password accepted
}

// Signup renders the sign-up form.
func (p *Pages) Signup(w http.ResponseWriter, status int, d SignupPage) error {
	return p.render(w, status, pageSignup, d)
}

// AccountPage is /settings/account: who the user is and the password form,
// which posts current_password, password and form_token.
type AccountPage struct {
	Nav       Nav
	Email     string
	Created   string
	Admin     bool
	Notice    string
	Error     string
	MinLength int
}

// Account renders the account page.
func (p *Pages) Account(w http.ResponseWriter, status int, d AccountPage) error {
	return p.render(w, status, pageAccount, d)
}

// ResetPage is the form of a password reset link: it posts token,
// password and form_token to /reset.
type ResetPage struct {
	Nav       Nav
	Token     string
	Error     string
	FormToken string
	MinLength int
}

// Reset renders a password reset link's form.
func (p *Pages) Reset(w http.ResponseWriter, status int, d ResetPage) error {
	return p.render(w, status, pageReset, d)
}

// UserRow is one user on /admin/users.
type UserRow struct {
	ID, Email, Created string
	Admin, Disabled    bool
	Self               bool // the admin looking at the page
}

// InviteRow is an invite that can still be used.
type InviteRow struct {
	Note, Created, Expires string
}

// AdminUsersPage is /admin/users: the users, a form to create one, a form
// to make an invite, and the invites still open.
type AdminUsersPage struct {
	Nav    Nav
	Notice string
	Error  string
	Users  []UserRow
	Total  int
	// Prev and Next are the links to the pages of users before and after
	// this one, "" when there is none.
	Prev, Next string
	Invites    []InviteRow
	Signup     string // the sign-up policy: closed, invite or open
	// The create form as sent, when it was refused.
	Email string
	Admin bool
}

// AdminUsers renders /admin/users.
func (p *Pages) AdminUsers(w http.ResponseWriter, status int, d AdminUsersPage) error {
	return p.render(w, status, pageAdminUsers, d)
}

// LinkCreatedPage shows a one-time link an admin made, once.
type LinkCreatedPage struct {
	Nav     Nav
	Heading string
	What    string // what the link does, for whom
	URL     string
	Expires string
}

// LinkCreated renders the page that shows a new link once.
func (p *Pages) LinkCreated(w http.ResponseWriter, status int, d LinkCreatedPage) error {
	return p.render(w, status, pageLinkCreated, d)
}

const pageAdminApps = "admin_apps"

func init() { pageNames = append(pageNames, pageAdminApps) }

// AdminAppRow is one app on /admin/apps.
type AdminAppRow struct {
	ID         int64
	App        App
	Categories string
	Users      int
	Keys, Live int
	Spend      string // all time, USD
	Hidden     bool   // hidden from rankings and public pages
	Public     bool   // has a public page, /apps/{ID}
}

// AdminAppsPage is /admin/apps: every app that keys were minted for, with
// totals.
type AdminAppsPage struct {
	Nav    Nav
	Notice string
	Apps   []AdminAppRow
}

// AdminApps renders /admin/apps.
func (p *Pages) AdminApps(w http.ResponseWriter, status int, d AdminAppsPage) error {
	return p.render(w, status, pageAdminApps, d)
}
