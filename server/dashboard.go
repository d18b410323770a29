package server

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// The signed-in user's pages (docs/dashboard.md): the key dashboard, a
// key's page and its actions, the apps holding keys. Every action is a
// POST carrying the session's form token, as the consent page's, and
// calls the same service method as the management API.

// mountDashboard registers the signed-in user's pages on mux.
func (b *browser) mountDashboard(mux *http.ServeMux) {
	mux.Handle("GET /settings/keys", b.page(b.keys))
	mux.Handle("GET /settings/keys/new", b.page(b.keyNewForm))
	mux.Handle("POST /settings/keys/new", b.page(b.keyCreate))
	mux.Handle("GET /settings/keys/{hash}", b.page(b.key))
	mux.Handle("POST /settings/keys/{hash}", b.page(b.keyUpdate))
	mux.Handle("POST /settings/keys/{hash}/disable", b.page(b.keySetDisabled(true)))
	mux.Handle("POST /settings/keys/{hash}/enable", b.page(b.keySetDisabled(false)))
	mux.Handle("GET /settings/keys/{hash}/delete", b.page(b.keyDeleteForm))
	mux.Handle("POST /settings/keys/{hash}/delete", b.page(b.keyDelete))
	mux.Handle("GET /settings/apps", b.page(b.apps))
	mux.Handle("POST /settings/apps/{id}/revoke", b.page(b.appRevoke))
}

// account is the signed-in user of a request to a page that needs one.
type account struct {
	user *keygate.User
	sess *keygate.Session
}

// nav is the site navigation of a's pages, current naming this page.
func (a *account) nav(current string) web.Nav {
	return web.Nav{Email: a.user.Email, FormToken: a.sess.CSRFToken, Admin: a.user.IsAdmin, Current: current}
}

// navOf is the site navigation of a page anyone may see: a's when the
// request is signed in, else none.
func (b *browser) navOf(r *http.Request, current string) (web.Nav, error) {
	u, sess, err := b.signedIn(r)
	if err != nil || u == nil {
		return web.Nav{}, err
	}
	return (&account{user: u, sess: sess}).nav(current), nil
}

// signedInOrLogin returns the request's account, or sends the browser to
// the sign-in form, coming back here afterwards, and returns nil.
func (b *browser) signedInOrLogin(w http.ResponseWriter, r *http.Request) (*account, error) {
	u, sess, err := b.signedIn(r)
	if err != nil {
		return nil, err
	}
	if u == nil {
		seeOther(w, "/login?return_to="+url.QueryEscape(r.URL.RequestURI()))
		return nil, nil
	}
	return &account{user: u, sess: sess}, nil
}

// postForm reads a POSTed form of a signed-in user and checks its form
// token against the session's: a missing or foreign token is EFORBIDDEN.
// Without a session the form is refused the same way (a form posted after
// signing out is not replayed after signing in).
func (b *browser) postForm(w http.ResponseWriter, r *http.Request) (*account, url.Values, error) {
	form, err := readForm(w, r)
	if err != nil {
		return nil, nil, err
	}
	u, sess, err := b.signedIn(r)
	if err != nil {
		return nil, nil, err
	}
	if u == nil {
		return nil, nil, keygate.Errorf(keygate.EFORBIDDEN, "You are signed out. Sign in and try again.")
	}
	if err := checkFormToken(form.Get("form_token"), sess.CSRFToken); err != nil {
		return nil, nil, err
	}
	return &account{user: u, sess: sess}, form, nil
}

// notices are the outcomes the pages announce after an action's redirect,
// by the done query parameter; anything else announces nothing.
var notices = map[string]string{
	"created":  "The key was created.",
	"saved":    "Your changes were saved.",
	"disabled": "The key is disabled: every request with it is refused until you enable it.",
	"enabled":  "The key is enabled again.",
	"deleted":  "The key was deleted.",
	"revoked":  "Every key of the app is disabled.",
}

// home serves GET /: what this keygate is and a way in, or the signed-in
// user's keys, spending and apps.
func (b *browser) home(w http.ResponseWriter, r *http.Request) error {
	u, sess, err := b.signedIn(r)
	if err != nil {
		return err
	}
	page := web.HomePage{APIBase: b.apiBase, SignUp: b.svc.SignupPolicy() == keygate.SignupOpen}
	if u == nil {
		return b.pages.Home(w, http.StatusOK, page)
	}
	a := &account{user: u, sess: sess}
	o, err := b.svc.Overview(r.Context(), u.ID)
	if err != nil {
		return err
	}
	names, err := b.workspaceNames(r, u.ID)
	if err != nil {
		return err
	}
	sum := &web.HomeSummary{Keys: len(o.Keys), MonthSpend: formatUSD(o.MonthSpend), AppCount: len(o.Apps)}
	for i, k := range o.Keys {
		if k.Status == keygate.KeyActive {
			sum.LiveKeys++
		}
		if i < 5 {
			sum.RecentKeys = append(sum.RecentKeys, keyRow(k, names))
		}
	}
	for _, app := range o.Apps[:min(len(o.Apps), 5)] {
		sum.Apps = append(sum.Apps, appRow(app))
	}
	page.Nav, page.Email, page.Summary = a.nav("home"), u.Email, sum
	return b.pages.Home(w, http.StatusOK, page)
}

// workspaceNames maps the ids of the user's workspaces to their names.
func (b *browser) workspaceNames(r *http.Request, userID string) (map[string]string, error) {
	list, _, err := b.svc.ListWorkspaces(r.Context(), userID, 0, keygate.MaxWorkspacePage)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(list))
	for _, ws := range list {
		names[ws.ID] = ws.Name
	}
	return names, nil
}

// keySorts are the dashboard's sortable columns: the sort parameter's
// name, the heading, and the order from least to greatest.
var keySorts = []struct {
	name, label string
	cmp         func(a, b *keygate.KeyOverview) int
}{
	{"name", "Name", func(a, b *keygate.KeyOverview) int {
		return strings.Compare(strings.ToLower(a.Key.Name), strings.ToLower(b.Key.Name))
	}},
	{"created", "Created", func(a, b *keygate.KeyOverview) int { return a.Key.CreatedAt.Compare(b.Key.CreatedAt) }},
	{"last_used", "Last used", func(a, b *keygate.KeyOverview) int {
		return cmp.Compare(timeOrZero(a.LastUsedAt).UnixMicro(), timeOrZero(b.LastUsedAt).UnixMicro())
	}},
	{"month", "This month", func(a, b *keygate.KeyOverview) int { return cmp.Compare(a.Usage.Monthly, b.Usage.Monthly) }},
	{"status", "Status", func(a, b *keygate.KeyOverview) int { return strings.Compare(a.Status, b.Status) }},
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// keys serves GET /settings/keys?sort=…: the user's keys per workspace,
// sorted by a column ("-" before its name: descending; newest first by
// default). An unknown sort is the default.
func (b *browser) keys(w http.ResponseWriter, r *http.Request) error {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return err
	}
	keys, err := b.svc.UserKeys(r.Context(), a.user.ID)
	if err != nil {
		return err
	}
	names, err := b.workspaceNames(r, a.user.ID)
	if err != nil {
		return err
	}
	sort := r.URL.Query().Get("sort")
	by, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
	page := web.KeysPage{Nav: a.nav("keys"), Notice: notices[r.URL.Query().Get("done")]}
	sorted := false
	for _, s := range keySorts {
		col := web.SortColumn{Label: s.label, Href: "/settings/keys?sort=" + s.name}
		if s.name == by {
			sorted = true
			slices.SortStableFunc(keys, func(x, y *keygate.KeyOverview) int {
				if desc {
					return s.cmp(y, x)
				}
				return s.cmp(x, y)
			})
			col.Sort = "ascending"
			if desc {
				col.Sort = "descending"
			} else {
				col.Href = "/settings/keys?sort=-" + s.name
			}
		}
		page.Columns = append(page.Columns, col)
	}
	if !sorted { // the service's order: newest first
		page.Columns[1].Sort = "descending"
	}
	groups := map[string]int{}
	for _, k := range keys {
		row := keyRow(k, names)
		i, ok := groups[k.Key.WorkspaceID]
		if !ok {
			i = len(page.Groups)
			groups[k.Key.WorkspaceID] = i
			page.Groups = append(page.Groups, web.KeyGroup{Workspace: row.Workspace})
		}
		page.Groups[i].Keys = append(page.Groups[i].Keys, row)
	}
	return b.pages.Keys(w, http.StatusOK, page)
}

// keyRow is k as the pages show it.
func keyRow(k *keygate.KeyOverview, workspaces map[string]string) web.KeyRow {
	row := web.KeyRow{
		Hash: k.Key.Hash, Name: k.Key.Name, Workspace: workspaces[k.Key.WorkspaceID],
		Created: pageTime(k.Key.CreatedAt), LastUsed: "Never",
		Today: formatUSD(k.Usage.Daily), Week: formatUSD(k.Usage.Weekly),
		Month: formatUSD(k.Usage.Monthly), Total: formatUSD(k.Usage.Total),
		Limit: "No limit", Reset: string(k.Key.LimitReset), Expires: "Never", Status: k.Status,
	}
	if k.App != nil {
		app := webApp(k.App)
		row.App = &app
	}
	if k.LastUsedAt != nil {
		row.LastUsed = pageTime(*k.LastUsedAt)
	}
	if k.Key.Limit != nil {
		row.Limit = formatUSD(*k.Key.Limit)
	}
	if k.Remaining != nil {
		row.Remaining = formatUSD(*k.Remaining)
	}
	if k.Key.ExpiresAt != nil {
		row.Expires = pageTime(*k.Key.ExpiresAt)
	}
	return row
}

// pageTime renders an instant in UTC to the minute, as the pages show it.
func pageTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// key serves GET /settings/keys/{hash}: the key, its chart, its latest
// requests and its forms.
func (b *browser) key(w http.ResponseWriter, r *http.Request) error {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return err
	}
	return b.showKey(w, r, a, http.StatusOK, notices[r.URL.Query().Get("done")], nil)
}

// showKey renders the key page of the request's {hash}; form, when not
// nil, is a refused edit form to show again with its error.
func (b *browser) showKey(w http.ResponseWriter, r *http.Request, a *account, status int, notice string, form *web.KeyForm) error {
	act, err := b.svc.KeyActivity(r.Context(), a.user.ID, r.PathValue("hash"))
	if err != nil {
		return err
	}
	names, err := b.workspaceNames(r, a.user.ID)
	if err != nil {
		return err
	}
	page := web.KeyPage{
		Nav: a.nav("keys"), Notice: notice, Key: keyRow(&act.KeyOverview, names),
		Disabled: act.Key.Disabled, Chart: spendChart(act),
	}
	for _, g := range act.Generations {
		page.Generations = append(page.Generations, web.GenerationRow{
			ID: g.ID, Created: pageTime(g.CreatedAt), Model: g.Model,
			PromptTokens: g.PromptTokens, CompletionTokens: g.CompletionTokens, Cost: formatUSD(g.Cost),
		})
	}
	if form != nil {
		page.Form = *form
	} else {
		page.Form = web.KeyForm{Name: act.Key.Name, Reset: string(act.Key.LimitReset)}
		if act.Key.Limit != nil {
			page.Form.Limit = strconv.FormatFloat(act.Key.Limit.USD(), 'f', -1, 64)
		}
	}
	page.Form.FormToken = a.sess.CSRFToken
	return b.pages.Key(w, status, page)
}

// apps serves GET /settings/apps: the apps holding the user's keys.
func (b *browser) apps(w http.ResponseWriter, r *http.Request) error {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return err
	}
	apps, err := b.svc.UserApps(r.Context(), a.user.ID)
	if err != nil {
		return err
	}
	page := web.AppsPage{Nav: a.nav("apps"), Notice: notices[r.URL.Query().Get("done")]}
	for _, app := range apps {
		page.Apps = append(page.Apps, appRow(app))
	}
	return b.pages.Apps(w, http.StatusOK, page)
}

func appRow(a *keygate.AppOverview) web.AppRow {
	return web.AppRow{
		ID: a.App.ID, App: webApp(a.App), Categories: strings.Join(a.App.Categories, ", "),
		FirstAuthorized: pageTime(a.FirstAuthorized), LastAuthorized: pageTime(a.LastAuthorized),
		Keys: a.Keys, LiveKeys: a.LiveKeys, Spend: formatUSD(a.Spend),
		Public: !a.App.Hidden && !a.App.IsLoopback,
	}
}

// appRevoke serves POST /settings/apps/{id}/revoke through
// Service.RevokeAppKeys: every key of the app is disabled, on every
// replica at once (the store's change feed).
func (b *browser) appRevoke(w http.ResponseWriter, r *http.Request) error {
	a, _, err := b.postForm(w, r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return keygate.Errorf(keygate.ENOTFOUND, "you hold no key of this app")
	}
	if _, err := b.svc.RevokeAppKeys(r.Context(), a.user.ID, id); err != nil {
		return err
	}
	seeOther(w, "/settings/apps?done=revoked")
	return nil
}
