package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestNewParsesEveryPage(t *testing.T) {
	if _, err := New(); err != nil {
		t.Fatalf("New() = %v", err)
	}
}

func TestParseFailsFast(t *testing.T) {
	layout := `{{template "title" .}}{{template "main" .}}`
	complete := func() fstest.MapFS {
		m := fstest.MapFS{"templates/layout.html": {Data: []byte(layout)}}
		for _, name := range pageNames {
			m["templates/"+name+".html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}t{{end}}{{define "main"}}m{{end}}`)}
		}
		return m
	}
	if _, err := parse(complete()); err != nil {
		t.Fatalf("parse(complete set) = %v", err)
	}
	tests := []struct {
		name   string
		change func(fstest.MapFS)
	}{
		{"missing-page", func(m fstest.MapFS) { delete(m, "templates/consent.html") }},
		{"missing-layout", func(m fstest.MapFS) { delete(m, "templates/layout.html") }},
		{"syntax-error", func(m fstest.MapFS) { m["templates/login.html"].Data = []byte(`{{define "title"}}`) }},
		{"no-main", func(m fstest.MapFS) { m["templates/code.html"].Data = []byte(`{{define "title"}}t{{end}}`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := complete()
			tt.change(m)
			if _, err := parse(m); err == nil {
				t.Error("parse = nil, want an error")
			}
		})
	}
}

func TestRender(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	evil := `<script>alert(1)</script>`
	app := App{Title: evil, URL: "https://app.example/" + evil}
	tests := []struct {
		name   string
		render func(w http.ResponseWriter) error
		want   []string
	}{
		{"login", func(w http.ResponseWriter) error {
			return p.Login(w, 200, LoginPage{Email: evil, Error: "Wrong email or password", ReturnTo: "/auth?a=1&b=2", FormToken: "tok", App: &app})
		}, []string{`action="/login"`, `name="return_to" value="/auth?a=1&amp;b=2"`, `value="tok"`, `<label for="email">`, `<label for="password">`, "Wrong email or password"}},
		{"signed-in", func(w http.ResponseWriter) error {
			return p.SignedIn(w, 200, SignedInPage{Email: "a@example.com", FormToken: "tok"})
		}, []string{"a@example.com", `action="/logout"`}},
		{"consent-one-workspace", func(w http.ResponseWriter) error {
			return p.Consent(w, 200, ConsentPage{App: app, UserEmail: "a@example.com", Action: "/auth?callback_url=x", FormToken: "tok",
				Limit: "$5.00", LimitReset: "resets daily", KeyLabel: "k", Workspaces: []WorkspaceOption{{ID: "w1", Name: "Default", Selected: true}}})
		}, []string{`action="/auth?callback_url=x"`, "$5.00, resets daily", "Never", `id="workspace">Default`, `value="approve"`, `value="deny"`}},
		{"consent-picker", func(w http.ResponseWriter) error {
			return p.Consent(w, 200, ConsentPage{App: App{Title: "127.0.0.1:3000", URL: "http://127.0.0.1:3000/cb", Loopback: true}, Action: "/auth?x",
				Workspaces: []WorkspaceOption{{ID: "w1", Name: "Default"}, {ID: "w2", Name: "Team", Selected: true}}})
		}, []string{`<label for="workspace_id">`, `<option value="w2" selected>Team</option>`, "No limit", `id="loopback-note"`}},
		{"consent-headless", func(w http.ResponseWriter) error {
			return p.Consent(w, 200, ConsentPage{App: App{Title: "Headless sign-in", Headless: true}, Action: "/auth?x"})
		}, []string{`id="headless-note"`}},
		{"code", func(w http.ResponseWriter) error {
			return p.Code(w, 200, CodePage{App: app, Code: "abc_DEF-123", ValidFor: "10 minutes"})
		}, []string{`readonly autocomplete="off" spellcheck="false">abc_DEF-123</textarea>`, `<script src="/static/copy.js" defer></script>`, `data-copy="code"`, "10 minutes"}},
		{"home", func(w http.ResponseWriter) error {
			return p.Home(w, 200, HomePage{APIBase: "https://keys.example/api/v1"})
		}, []string{"https://keys.example/api/v1", `id="sign-in"`}},
		{"home-signed-in", func(w http.ResponseWriter) error {
			return p.Home(w, 200, HomePage{APIBase: "https://keys.example/api/v1", Email: "a@example.com"})
		}, []string{"a@example.com", `id="account"`}},
		{"notice", func(w http.ResponseWriter) error {
			return p.Notice(w, 400, NoticePage{Heading: "Invalid request", Message: evil})
		}, []string{"Invalid request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := tt.render(rec); err != nil {
				t.Fatal(err)
			}
			body := rec.Body.String()
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			for _, w := range append(tt.want, `name="viewport"`, `href="/static/style.css"`) {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, evil) {
				t.Error("a value was written without escaping")
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, "onclick=") {
				t.Error("the page has an inline script")
			}
		})
	}
}

func TestRenderErrorWritesNothing(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	// The consent page fails half-way through on data without its fields.
	if err := p.render(rec, 200, pageConsent, struct{ App App }{}); err == nil {
		t.Fatal("render(consent, wrong data) = nil, want an error")
	}
	if rec.Body.Len() != 0 || rec.Code != 200 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("a failed render wrote status %d, headers %v, body %q", rec.Code, rec.Header(), rec.Body)
	}
}

func TestStatic(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/static/", Static()))
	defer srv.Close()
	for path, ct := range map[string]string{"/static/style.css": "text/css; charset=utf-8", "/static/copy.js": "text/javascript; charset=utf-8"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ct || len(b) == 0 {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %q", path, res.StatusCode, res.Header.Get("Content-Type"), len(b), ct)
		}
	}
	// The directory itself is not listed.
	res, err := http.Get(srv.URL + "/static/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || strings.Contains(string(b), "style.css") {
		t.Errorf("GET /static/ = %d %q, want 404 without a listing", res.StatusCode, b)
	}
}
