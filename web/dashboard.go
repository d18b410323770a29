package web

import "net/http"

// The signed-in user's pages: the home page's summary, the key dashboard,
// a key's page with its chart, the key forms, and the apps holding keys.
// Every value is display text the server formatted; the templates only
// place it.

const (
	pageKeys       = "keys"
	pageKey        = "key"
	pageKeyNew     = "key_new"
	pageKeyCreated = "key_created"
	pageKeyDelete  = "key_delete"
	pageApps       = "apps"
)

func init() {
	pageNames = append(pageNames, pageKeys, pageKey, pageKeyNew, pageKeyCreated, pageKeyDelete, pageApps)
}

// Nav is the site navigation of a signed-in user's pages; its zero value
// (no Email) shows none.
type Nav struct {
	Email     string
	FormToken string // the session's form token, for the sign-out form
	Admin     bool   // shows the Admin entries
	Current   string // the entry of this page: home, keys, apps, account, users or admin-apps
}

// KeyRow is one key as the dashboard shows it.
type KeyRow struct {
	Hash      string // the key's hash: its page is /settings/keys/{Hash}
	Name      string
	App       *App // the app it was minted for; nil for keys made directly
	Workspace string
	Created   string
	LastUsed  string // "Never" when never used
	Today     string // usage in USD, this UTC day, ISO week, UTC month and all time
	Week      string
	Month     string
	Total     string
	Limit     string // "$5.00", or "No limit"
	Reset     string // "daily", "weekly", "monthly" or "" (all time)
	Remaining string // "" with no limit
	Expires   string // "Never" when the key does not expire
	Status    string // active, disabled or expired
}

// SortColumn is a sortable column heading of the key dashboard.
type SortColumn struct {
	Label string
	Href  string // the dashboard sorted by this column (or in reverse)
	Sort  string // aria-sort: ascending, descending or "" when not sorted by it
}

// KeyGroup is the keys of one workspace.
type KeyGroup struct {
	Workspace string
	Keys      []KeyRow
}

// KeysPage is /settings/keys.
type KeysPage struct {
	Nav     Nav
	Notice  string // the outcome of the last action, or ""
	Columns []SortColumn
	Groups  []KeyGroup // empty: the user holds no key
}

// Keys renders the key dashboard.
func (p *Pages) Keys(w http.ResponseWriter, status int, d KeysPage) error {
	return p.render(w, status, pageKeys, d)
}

// Bar is one day of a chart, in the SVG's user units.
type Bar struct {
	X, Y, W, H int
	Title      string // "2026-03-04: $0.35"
}

// Chart is a server-rendered SVG bar chart of a key's daily spending,
// with its limit as a horizontal line when it has one.
type Chart struct {
	Width, Height int
	Bars          []Bar
	LimitY        int    // the limit line's y; used when Limit is not ""
	Limit         string // "daily limit $5.00", or ""
	Max           string // the spending the top of the chart stands for
	First, Last   string // the first and last day shown
	Summary       string // the chart in words, for screen readers
}

// GenerationRow is one of a key's latest generations.
type GenerationRow struct {
	ID               string
	Created          string
	Model            string
	PromptTokens     int64
	CompletionTokens int64
	Cost             string
}

// KeyForm is what the key forms hold: the create form and the edit form
// of a key's page. Values are as typed, so a refused form comes back as
// it was sent.
type KeyForm struct {
	Name       string
	Limit      string // USD, "" for no limit
	Reset      string // "", daily, weekly or monthly
	Expires    string // YYYY-MM-DD, or "" for never (create) / unchanged (edit)
	Workspaces []WorkspaceOption
	Error      string
	FormToken  string
}

// KeyPage is /settings/keys/{hash}.
type KeyPage struct {
	Nav         Nav
	Notice      string
	Key         KeyRow
	Disabled    bool
	Chart       Chart
	Generations []GenerationRow
	Form        KeyForm
}

// Key renders a key's page.
func (p *Pages) Key(w http.ResponseWriter, status int, d KeyPage) error {
	return p.render(w, status, pageKey, d)
}

// KeyNewPage is the create-a-key form, /settings/keys/new.
type KeyNewPage struct {
	Nav  Nav
	Form KeyForm
}

// KeyNew renders the create-a-key form.
func (p *Pages) KeyNew(w http.ResponseWriter, status int, d KeyNewPage) error {
	return p.render(w, status, pageKeyNew, d)
}

// KeyCreatedPage shows a new key's secret, once.
type KeyCreatedPage struct {
	Nav    Nav
	Secret string
	Key    KeyRow
}

// KeyCreated renders the page that shows a new key once.
func (p *Pages) KeyCreated(w http.ResponseWriter, status int, d KeyCreatedPage) error {
	return p.render(w, status, pageKeyCreated, d)
}

// KeyDeletePage asks to confirm the deletion of a key.
type KeyDeletePage struct {
	Nav Nav
	Key KeyRow
}

// KeyDelete renders the confirmation step of a key's deletion.
func (p *Pages) KeyDelete(w http.ResponseWriter, status int, d KeyDeletePage) error {
	return p.render(w, status, pageKeyDelete, d)
}

// AppRow is an app holding keys of the user.
type AppRow struct {
	ID              int64
	App             App
	Categories      string // comma-separated, or ""
	FirstAuthorized string
	LastAuthorized  string
	Keys, LiveKeys  int
	Spend           string
	Public          bool // has a public page, /apps/{ID}
}

// AppsPage is /settings/apps.
type AppsPage struct {
	Nav    Nav
	Notice string
	Apps   []AppRow
}

// Apps renders the apps holding the user's keys.
func (p *Pages) Apps(w http.ResponseWriter, status int, d AppsPage) error {
	return p.render(w, status, pageApps, d)
}
