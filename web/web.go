package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// The pages, each a file in templates/ that defines "title" and "main" for
// templates/layout.html.
const (
	pageLogin    = "login"
	pageSignedIn = "signed_in"
	pageConsent  = "consent"
	pageCode     = "code"
	pageNotice   = "notice"
	pageHome     = "home"
)

var pageNames = []string{pageLogin, pageSignedIn, pageConsent, pageCode, pageNotice, pageHome}

// Pages renders keygate's browser pages. It is safe for concurrent use.
type Pages struct {
	tmpl map[string]*template.Template
}

// New parses every page. It fails when a page file is missing, does not
// parse, or does not define both "title" and "main".
func New() (*Pages, error) {
	return parse(templateFS)
}

func parse(fsys fs.FS) (*Pages, error) {
	p := &Pages{tmpl: make(map[string]*template.Template, len(pageNames))}
	for _, name := range pageNames {
		t, err := template.New("layout.html").ParseFS(fsys, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		for _, block := range []string{"title", "main"} {
			if t.Lookup(block) == nil {
				return nil, fmt.Errorf("web: page %s does not define %q", name, block)
			}
		}
		p.tmpl[name] = t
	}
	return p, nil
}

// Static returns a handler for the embedded assets, to be mounted with the
// prefix stripped (GET /static/style.css serves static/style.css). It
// serves files only: a directory (the empty path, or one ending in "/")
// is 404, never a listing.
func Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || strings.HasSuffix(p, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// render executes page into a buffer and, only when that succeeded, writes
// it with status. The caller sets every other header first.
func (p *Pages) render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := p.tmpl[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// App describes the application asking for a key, as the pages show it.
type App struct {
	Title string // the app's title; "host:port" for loopback apps
	URL   string // its normalized URL; "" in headless mode
	// Loopback marks an app on the user's own computer (a localhost or
	// loopback-IP callback): anyone who can run a program there can ask.
	Loopback bool
	// Headless marks a request without a callback URL: the code is shown
	// on the page for the user to paste.
	Headless bool
}

// LoginPage is the sign-in form. It posts email, password, form_token and
// return_to to /login.
type LoginPage struct {
	Nav       Nav    // the site navigation; zero on pages of the sign-in flow
	Email     string // prefilled after a failed attempt
	Error     string // why the last attempt failed; "" on first display
	ReturnTo  string // local path to go back to after signing in, or ""
	FormToken string // pre-session form token, also set as a cookie
	App       *App   // the app whose request led here, or nil
	// Providers are the upstream OpenID providers to sign in with, each a
	// "Sign in with <Name>" link; NoPassword hides the password form.
	Providers  []LoginProvider
	NoPassword bool
	SignUp     bool // anyone may create an account: the page links to /signup
}

// LoginProvider is an upstream OpenID provider on the sign-in page.
type LoginProvider struct {
	Name string // display name
	URL  string // local path that starts the sign-in with it
}

// Login renders the sign-in page.
func (p *Pages) Login(w http.ResponseWriter, status int, d LoginPage) error {
	return p.render(w, status, pageLogin, d)
}

// SignedInPage tells a signed-in user who they are and offers to sign out.
type SignedInPage struct {
	Nav       Nav // the site navigation; zero on pages of the sign-in flow
	Email     string
	FormToken string // the session's form token, for the sign-out form
}

// SignedIn renders the page shown at /login to a signed-in user.
func (p *Pages) SignedIn(w http.ResponseWriter, status int, d SignedInPage) error {
	return p.render(w, status, pageSignedIn, d)
}

// WorkspaceOption is one entry of the consent page's workspace picker.
type WorkspaceOption struct {
	ID       string
	Name     string
	Selected bool
}

// ConsentPage asks the signed-in user to approve or deny an app's request
// for a key. Its form posts decision (approve or deny), form_token and,
// with more than one workspace, workspace_id to Action.
type ConsentPage struct {
	Nav       Nav // the site navigation; zero on pages of the sign-in flow
	App       App
	UserEmail string
	Action    string // the form's target: the /auth request itself
	FormToken string // the session's form token
	ReturnTo  string // where the sign-out form comes back to
	// What the key will be: the display forms of the spending limit in USD
	// ("" for no limit), its reset interval ("" for none), the key's expiry
	// ("" for never) and its name.
	Limit      string
	LimitReset string
	Expires    string
	KeyLabel   string
	// Workspaces lists the user's workspaces; with more than one the page
	// shows a picker, otherwise the single name.
	Workspaces []WorkspaceOption
}

// Consent renders the consent page.
func (p *Pages) Consent(w http.ResponseWriter, status int, d ConsentPage) error {
	return p.render(w, status, pageConsent, d)
}

// CodePage shows an authorization code in headless mode, with a copy
// button that /static/copy.js enables; without JavaScript the code is in a
// read-only field, ready to select.
type CodePage struct {
	Nav      Nav // the site navigation; zero on pages of the sign-in flow
	App      App
	Code     string // the authorization code, shown once
	ValidFor string // how long the code can be exchanged, e.g. "10 minutes"
}

// Code renders the headless code page.
func (p *Pages) Code(w http.ResponseWriter, status int, d CodePage) error {
	return p.render(w, status, pageCode, d)
}

// NoticePage is a short message: an error (an invalid /auth request, a
// refused form) or an outcome (access denied in headless mode).
type NoticePage struct {
	Nav     Nav // the site navigation; zero on pages of the sign-in flow
	Heading string
	Message string
}

// Notice renders a notice page.
func (p *Pages) Notice(w http.ResponseWriter, status int, d NoticePage) error {
	return p.render(w, status, pageNotice, d)
}

// HomePage says what this keygate is, at GET /.
type HomePage struct {
	Nav     Nav
	APIBase string // the API base URL apps use, e.g. "https://keys.example.com/api/v1"
	Email   string // the signed-in user, or "" with a sign-in link instead
	SignUp  bool   // anyone may create an account: the page links to /signup
	// What the signed-in user holds; nil when signed out.
	Summary *HomeSummary
}

// HomeSummary is a signed-in user's home: their keys, this month's
// spending and the apps holding keys.
type HomeSummary struct {
	Keys, LiveKeys int
	MonthSpend     string   // USD, this UTC month, all keys
	RecentKeys     []KeyRow // the newest few
	Apps           []AppRow // the most recently authorized few
	AppCount       int
}

// Home renders the home page.
func (p *Pages) Home(w http.ResponseWriter, status int, d HomePage) error {
	return p.render(w, status, pageHome, d)
}
