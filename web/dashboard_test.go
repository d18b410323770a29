package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRenderDashboard renders every page of the signed-in user and the
// account pages with hostile values: each is escaped, the navigation shows
// for a signed-in user only, and every form carries its token.
func TestRenderDashboard(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	evil := `<script>alert(1)</script>`
	nav := Nav{Email: evil, FormToken: "tok", Current: "keys"}
	app := &App{Title: evil, URL: "https://app.example/" + evil}
	row := KeyRow{Hash: "abc", Name: evil, App: app, Workspace: evil, Created: "c", LastUsed: "Never", Today: "$0.00",
		Week: "$0.00", Month: "$1.00", Total: "$2.00", Limit: "$5.00", Reset: "daily", Remaining: "$4.00", Expires: "Never", Status: "active"}
	tests := []struct {
		name   string
		render func(w http.ResponseWriter) error
		want   []string
	}{
		{"keys", func(w http.ResponseWriter) error {
			return p.Keys(w, 200, KeysPage{Nav: nav, Notice: evil, Columns: []SortColumn{{Label: "Name", Href: "/settings/keys?sort=-name", Sort: "ascending"}},
				Groups: []KeyGroup{{Workspace: evil, Keys: []KeyRow{row}}}})
		}, []string{`aria-current="page">Keys`, `aria-sort="ascending"`, `href="/settings/keys/abc"`, `name="form_token" value="tok"`}},
		{"keys-empty", func(w http.ResponseWriter) error { return p.Keys(w, 200, KeysPage{Nav: nav}) }, []string{`id="empty"`}},
		{"key", func(w http.ResponseWriter) error {
			return p.Key(w, 200, KeyPage{Nav: nav, Key: row, Chart: Chart{Width: 600, Height: 160, Bars: []Bar{{X: 2, Y: 10, W: 16, H: 150, Title: evil}},
				LimitY: 0, Limit: "daily limit $5.00", Max: "$5.00", First: "a", Last: "b", Summary: evil},
				Generations: []GenerationRow{{ID: "g", Model: evil, PromptTokens: 12, CompletionTokens: 34, Cost: "$0.01"}},
				Form:        KeyForm{Name: evil, Limit: "5", Reset: "weekly", FormToken: "tok", Error: evil}})
		}, []string{`<svg viewBox="0 0 600 160" role="img"`, `id="limit-line"`, `<option value="weekly" selected>`, `action="/settings/keys/abc/disable"`, `href="/settings/keys/abc/delete"`, `id="form-error"`}},
		{"key-disabled", func(w http.ResponseWriter) error {
			return p.Key(w, 200, KeyPage{Nav: nav, Key: row, Disabled: true, Form: KeyForm{FormToken: "tok"}})
		}, []string{`action="/settings/keys/abc/enable"`, `id="no-generations"`}},
		{"key-new", func(w http.ResponseWriter) error {
			return p.KeyNew(w, 200, KeyNewPage{Nav: nav, Form: KeyForm{Name: evil, FormToken: "tok", Workspaces: []WorkspaceOption{{ID: "w1", Name: evil}, {ID: "w2", Name: "b", Selected: true}}}})
		}, []string{`action="/settings/keys/new"`, `<option value="w2" selected>b</option>`}},
		{"key-created", func(w http.ResponseWriter) error {
			return p.KeyCreated(w, 200, KeyCreatedPage{Nav: nav, Secret: "sk-kg-v1-abc", Key: row})
		}, []string{`>sk-kg-v1-abc</textarea>`, `data-copy="secret"`, `<script src="/static/copy.js" defer></script>`, `id="once-warning"`}},
		{"key-delete", func(w http.ResponseWriter) error { return p.KeyDelete(w, 200, KeyDeletePage{Nav: nav, Key: row}) },
			[]string{`action="/settings/keys/abc/delete"`, `name="form_token" value="tok"`}},
		{"apps", func(w http.ResponseWriter) error {
			return p.Apps(w, 200, AppsPage{Nav: nav, Apps: []AppRow{{ID: 7, App: *app, Categories: evil, Keys: 2, LiveKeys: 1, Spend: "$1.00"}}})
		}, []string{`action="/settings/apps/7/revoke"`, `name="form_token" value="tok"`}},
		{"home-signed-in", func(w http.ResponseWriter) error {
			return p.Home(w, 200, HomePage{Nav: nav, Email: evil, Summary: &HomeSummary{Keys: 1, LiveKeys: 1, MonthSpend: "$1.00", RecentKeys: []KeyRow{row}, AppCount: 1}})
		}, []string{`id="stat-month">$1.00<`, `id="recent-keys"`}},
		{"signup", func(w http.ResponseWriter) error {
			return p.Signup(w, 200, SignupPage{Email: evil, Invite: "inv", Error: evil, FormToken: "tok", MinLength: 8})
		}, []string{`action="/signup"`, `name="invite" value="inv"`, `minlength="8"`, `autocomplete="new-password"`}},
		{"account", func(w http.ResponseWriter) error {
			return p.Account(w, 200, AccountPage{Nav: nav, Email: evil, Error: evil, MinLength: 8})
		}, []string{`action="/settings/account"`, `id="current_password"`, `name="form_token" value="tok"`}},
		{"reset", func(w http.ResponseWriter) error {
			return p.Reset(w, 200, ResetPage{Token: evil, FormToken: "tok", MinLength: 8})
		}, []string{`action="/reset"`}},
		{"admin-users", func(w http.ResponseWriter) error {
			return p.AdminUsers(w, 200, AdminUsersPage{Nav: Nav{Email: "a", FormToken: "tok", Admin: true, Current: "users"}, Total: 2, Signup: "invite",
				Users:   []UserRow{{ID: "u1", Email: evil, Admin: true, Self: true}, {ID: "u2", Email: "b", Disabled: true}},
				Invites: []InviteRow{{Note: evil}}})
		}, []string{`aria-current="page">Users`, `action="/admin/users/u2/enable"`, `action="/admin/users/u1/reset"`, `action="/admin/invites"`}},
		{"admin-apps", func(w http.ResponseWriter) error {
			return p.AdminApps(w, 200, AdminAppsPage{Nav: Nav{Email: "a", FormToken: "tok", Admin: true, Current: "admin-apps"},
				Apps: []AdminAppRow{{ID: 3, App: *app, Categories: evil, Users: 2, Keys: 3, Live: 1, Spend: "$1.25"}}})
		}, []string{`aria-current="page">All apps`, "<td>$1.25</td>"}},
		{"link-created", func(w http.ResponseWriter) error {
			return p.LinkCreated(w, 200, LinkCreatedPage{Nav: nav, Heading: evil, What: evil, URL: "https://k.example/signup?invite=x&y", Expires: "e"})
		}, []string{`>https://k.example/signup?invite=x&amp;y</textarea>`, `data-copy="link"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := tt.render(rec); err != nil {
				t.Fatal(err)
			}
			body := rec.Body.String()
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, evil) {
				t.Error("a value was written without escaping")
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "onclick=") || strings.Contains(body, "style=") {
				t.Error("the page has an inline script or style")
			}
		})
	}
	// Pages of the sign-in flow have no navigation.
	rec := httptest.NewRecorder()
	if err := p.Login(rec, 200, LoginPage{FormToken: "t"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Body.String(), `<nav`) {
		t.Error("the sign-in page shows the site navigation")
	}
}
