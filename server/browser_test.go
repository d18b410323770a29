package server_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/server"
)

// wantCSP is the Content-Security-Policy of every browser page but the
// consent page, which adds the callback's origin to form-action.
const wantCSP = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// browse sends a browser request without following redirects. form, when
// not nil, is sent as an application/x-www-form-urlencoded body; cookies
// are name=value pairs; headers alternate names and values.
func (e *env) browse(method, path string, form url.Values, cookies []string, headers ...string) *response {
	e.t.Helper()
	return browseURL(e.t, e.srv.URL+path, method, form, cookies, headers...)
}

func browseURL(t *testing.T, target, method string, form url.Values, cookies []string, headers ...string) *response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if len(cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// cookie returns the Set-Cookie of the response named name, or nil.
func (r *response) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// signIn starts a session for alice through the service and returns the
// session cookie ("keygate_session=…") and the session's form token.
func (e *env) signIn() (cookie, formToken string) {
	e.t.Helper()
	token, err := e.svc.Login(context.Background(), "alice@example.com", testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	_, sess, err := e.svc.SessionUser(context.Background(), token)
	if err != nil {
		e.t.Fatal(err)
	}
	return "keygate_session=" + token, sess.CSRFToken
}

// decide posts the consent form of the /auth request with query.
func (e *env) decide(query, session, formToken, decision string, extra ...string) *response {
	e.t.Helper()
	form := url.Values{"form_token": {formToken}, "decision": {decision}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return e.browse("POST", "/auth?"+query, form, []string{session})
}

// codesCreated counts the code.created audit events: how many codes exist.
func (e *env) codesCreated() int {
	e.t.Helper()
	events, err := e.store.ListAudit(context.Background(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Action == keygate.AuditCodeCreated {
			n++
		}
	}
	return n
}

// authQuery builds an /auth query; pairs alternate names and values.
func authQuery(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(pairs[i]) + "=" + url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}

// checkPageHeaders asserts the headers every browser page and redirect
// carries.
func checkPageHeaders(t *testing.T, r *response, csp string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": csp,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for name, v := range want {
		if got := r.header.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,}$`)

// TestAuthInvalidRequest: an invalid /auth request gets a 400 page at once,
// signed in or not, never a sign-in form, never a redirect, and no code
// (RFC 6749 §4.1.2.1: an invalid callback is never redirected to).
func TestAuthInvalidRequest(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	s256 := func(cb string, extra ...string) string {
		return authQuery(append([]string{"callback_url", cb, "code_challenge", C1, "code_challenge_method", "S256"}, extra...)...)
	}
	tests := []struct {
		name, query, field string
	}{
		{"fragment", s256("https://app.example.com/#/oauth"), "callback_url"},
		{"method-lowercase", s256(cbLocal, "code_challenge_method", "s256"), "code_challenge_method"},
		{"method-unknown", authQuery("callback_url", cbLocal, "code_challenge", C1, "code_challenge_method", "S257"), "code_challenge_method"},
		{"method-without-challenge", authQuery("callback_url", cbLocal, "code_challenge_method", "S256"), "code_challenge"},
		{"s256-padded", authQuery("callback_url", cbLocal, "code_challenge", C1Pad, "code_challenge_method", "S256"), "code_challenge"},
		{"s256-standard-alphabet", authQuery("callback_url", cbLocal, "code_challenge", C1Std, "code_challenge_method", "S256"), "code_challenge"},
		{"s256-hex-digest", authQuery("callback_url", cbLocal, "code_challenge", strings.Repeat("a1", 32), "code_challenge_method", "S256"), "code_challenge"},
		{"s256-short", authQuery("callback_url", cbLocal, "code_challenge", "abc", "code_challenge_method", "S256"), "code_challenge"},
		{"plain-30", authQuery("callback_url", cbLocal, "code_challenge", strings.Repeat("p", 30), "code_challenge_method", "plain"), "code_challenge"},
		{"plain-slash", authQuery("callback_url", cbLocal, "code_challenge", strings.Repeat("p", 42)+"/", "code_challenge_method", "plain"), "code_challenge"},
		{"plain-default-short", authQuery("callback_url", cbLocal, "code_challenge", "short"), "code_challenge"},
		{"http-remote", s256("http://app.example.com/cb"), "callback_url"},
		{"http-localhost-suffix", s256("http://localhost.evil.example/cb"), "callback_url"},
		{"javascript", s256("javascript:alert(1)"), "callback_url"},
		{"javascript-upper", s256("JavaScript://x/%0aalert(1)"), "callback_url"},
		{"data", s256("data:text/html,hi"), "callback_url"},
		{"no-authority", s256("https:evil.example/cb"), "callback_url"},
		{"relative", s256("/cb"), "callback_url"},
		{"userinfo", s256("https://user:pw@app.example.com/cb"), "callback_url"},
		{"space", s256("https://app.example.com/c b"), "callback_url"},
		{"port-0", s256("http://127.0.0.1:0/cb"), "callback_url"},
		{"too-long", s256("https://app.example.com/" + strings.Repeat("a", 2048)), "callback_url"},
		{"callback-twice", authQuery("callback_url", cbLocal, "callback_url", "https://evil.example/cb"), "callback_url"},
		{"state-twice", s256(cbLocal, "state", "a", "state", "b"), "state"},
		{"state-too-long", s256(cbLocal, "state", strings.Repeat("s", 2049)), "state"},
		{"limit-negative", s256(cbLocal, "limit", "-5"), "limit"},
		{"limit-not-number", s256(cbLocal, "limit", "ten"), "limit"},
		{"limit-nan", s256(cbLocal, "limit", "NaN"), "limit"},
		{"limit-inf", s256(cbLocal, "limit", "Inf"), "limit"},
		{"limit-huge", s256(cbLocal, "limit", "1e12"), "limit"},
		{"usage-limit-type-yearly", s256(cbLocal, "usage_limit_type", "yearly"), "usage_limit_type"},
		{"usage-limit-type-case", s256(cbLocal, "usage_limit_type", "Daily"), "usage_limit_type"},
		{"expires-past", s256(cbLocal, "expires_at", "2020-01-01T00:00:00Z"), "expires_at"},
		{"expires-no-zone", s256(cbLocal, "expires_at", "2030-01-01T00:00:00"), "expires_at"},
		{"key-label-101", s256(cbLocal, "key_label", strings.Repeat("L", 101)), "key_label"},
		{"workspace-not-uuid", s256(cbLocal, "workspace_id", "not-a-uuid"), "workspace_id"},

		{"headless-without-challenge", "", "code_challenge"},
		{"headless-method-only", authQuery("code_challenge_method", "S256"), "code_challenge"},
		{"bad-escape", "callback_url=%zz", "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.codesCreated()
			for _, c := range []struct {
				name, method string
				cookies      []string
				form         url.Values
			}{
				{"signed-out", "GET", nil, nil},
				{"signed-out-post", "POST", nil, url.Values{"decision": {"approve"}}},
				{"signed-in", "GET", []string{session}, nil},
				{"approve", "POST", []string{session}, url.Values{"form_token": {formToken}, "decision": {"approve"}}},
			} {
				r := e.browse(c.method, "/auth?"+tt.query, c.form, c.cookies)
				if r.status != http.StatusBadRequest {
					t.Fatalf("%s: status = %d, want 400; body %s", c.name, r.status, r.body)
				}
				if loc := r.header.Get("Location"); loc != "" {
					t.Errorf("%s: Location = %q, want no redirect", c.name, loc)
				}
				body := string(r.body)
				if !strings.Contains(body, tt.field) || !strings.Contains(body, "This sign-in request is not valid") {
					t.Errorf("%s: page does not explain the problem with %s:\n%s", c.name, tt.field, body)
				}
				if strings.Contains(body, "<form") {
					t.Errorf("%s: the error page offers a form", c.name)
				}
				if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("%s: Content-Type = %q", c.name, ct)
				}
				checkPageHeaders(t, r, wantCSP)
			}
			if n := e.codesCreated(); n != before {
				t.Errorf("%d codes were created, want none", n-before)
			}
		})
	}
}

// TestAuthApproveRedirect: Approve answers 302 to the callback exactly as
// supplied followed by ?code= or &code=, and the code exchanges (edge cases
// loopback spellings, private-use schemes, no PKCE;
// RFC 8252 §7.1, §7.3).
func TestAuthApproveRedirect(t *testing.T) {
	tests := []struct {
		name, callback string
		pkce           bool
		sep            string
	}{
		{"localhost-port", "http://localhost:53219/callback", true, "?"},
		{"ipv4-loopback", "http://127.0.0.1:49152/cb", true, "?"},
		{"ipv6-loopback", "http://[::1]:61023/oauth", true, "?"},
		{"localhost-implicit-port", "http://localhost/", true, "?"},
		{"ipv4-no-path", "http://127.0.0.1:8787", true, "?"},
		{"localhost-upper", "http://LOCALHOST:3000/cb", true, "?"},
		{"vscode", "vscode://example.vscode-ext/openrouter", true, "?"},
		{"cursor", "cursor://ext.id/openrouter", true, "?"},
		{"windsurf", "windsurf://ext.id/openrouter", true, "?"},
		{"vscode-insiders", "vscode-insiders://ext.id/openrouter", true, "?"},
		{"chrome-extension", "chrome-extension://abcdefghijklmnopabcdefghijklmnop/callback.html", true, "?"},
		{"chromiumapp", "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/openrouter", true, "?"},
		{"own-query", "https://app.example.com/cb?app_state=x%2By&b=", true, "&"},
		{"own-query-unsorted", "https://app.example.com/cb?z=1&a=%7e", true, "&"},
		{"no-pkce", "http://localhost:3000/cb", false, "?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			session, formToken := e.signIn()
			q := authQuery("callback_url", tt.callback)
			if tt.pkce {
				q = authQuery("callback_url", tt.callback, "code_challenge", C1, "code_challenge_method", "S256")
			}
			page := e.browse("GET", "/auth?"+q, nil, []string{session})
			if page.status != http.StatusOK || !strings.Contains(string(page.body), `value="approve"`) {
				t.Fatalf("GET /auth = %d, want the consent page:\n%s", page.status, page.body)
			}
			r := e.decide(q, session, formToken, "approve")
			if r.status != http.StatusFound {
				t.Fatalf("approve: status = %d, want 302; body %s", r.status, r.body)
			}
			loc := r.header.Get("Location")
			prefix := tt.callback + tt.sep + "code="
			if !strings.HasPrefix(loc, prefix) {
				t.Fatalf("Location = %q, want the callback as supplied then %q", loc, tt.sep+"code=")
			}
			code := strings.TrimPrefix(loc, prefix)
			if !codeRE.MatchString(code) {
				t.Errorf("code %q is not only [A-Za-z0-9._~-]", code)
			}
			checkPageHeaders(t, r, wantCSP)
			body := map[string]any{"code": code}
			if tt.pkce {
				body["code_verifier"], body["code_challenge_method"] = V1, "S256"
			}
			x := e.exchange(body)
			if x.status != http.StatusOK {
				t.Fatalf("exchange = %d %s", x.status, x.body)
			}
			key := x.json(t)["key"].(string)
			if k := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); k.status != http.StatusOK {
				t.Errorf("GET /api/v1/key = %d %s", k.status, k.body)
			}
		})
	}
}

// TestAuthState: state is echoed decoded exactly, once, on approve and on
// deny; response_type, client_id and scope are ignored; key_label applies
// (RFC 6749 §4.1.2, §4.1.2.1, §3.1).
func TestAuthState(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	raw := "callback_url=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback&code_challenge=" + C1 +
		"&code_challenge_method=S256&state=st%2B1%20%2F%3D&response_type=code&client_id=anything&scope=openid&key_label=gptme"
	tests := []struct {
		decision string
		want     []string // parameters that must be present once
		absent   string
	}{
		{"approve", []string{"code", "state"}, "error"},
		{"deny", []string{"error", "state"}, "code"},
	}
	for _, tt := range tests {
		t.Run(tt.decision, func(t *testing.T) {
			r := e.decide(raw, session, formToken, tt.decision)
			if r.status != http.StatusFound {
				t.Fatalf("status = %d, want 302; body %s", r.status, r.body)
			}
			loc := r.header.Get("Location")
			if !strings.HasPrefix(loc, "http://127.0.0.1:3000/callback?") {
				t.Fatalf("Location = %q", loc)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			for _, name := range tt.want {
				if len(q[name]) != 1 {
					t.Errorf("%s appears %d times in %q, want once", name, len(q[name]), loc)
				}
			}
			if got := q.Get("state"); got != "st+1 /=" {
				t.Errorf("state = %q, want %q", got, "st+1 /=")
			}
			if q.Has(tt.absent) {
				t.Errorf("Location %q has %s", loc, tt.absent)
			}
			if tt.decision == "deny" && q.Get("error") != "access_denied" {
				t.Errorf("error = %q, want access_denied", q.Get("error"))
			}
			if tt.decision == "approve" {
				x := e.exchange(map[string]any{"code": q.Get("code"), "code_verifier": V1})
				if x.status != http.StatusOK {
					t.Fatalf("exchange = %d %s", x.status, x.body)
				}
				k := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+x.json(t)["key"].(string))
				if label := k.json(t)["data"].(map[string]any)["label"]; label != "gptme" {
					t.Errorf("key label = %v, want gptme", label)
				}
			}
		})
	}
}

// TestAuthDeny: Deny never creates a code; without a state no state is
// added; the callback's own query is kept.
func TestAuthDeny(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	q := authQuery("callback_url", "https://app.example.com/cb?x=1", "code_challenge", C1, "code_challenge_method", "S256")
	r := e.decide(q, session, formToken, "deny")
	if want := "https://app.example.com/cb?x=1&error=access_denied"; r.status != http.StatusFound || r.header.Get("Location") != want {
		t.Fatalf("deny = %d Location %q, want 302 %q", r.status, r.header.Get("Location"), want)
	}
	if n := e.codesCreated(); n != 0 {
		t.Errorf("deny created %d codes", n)
	}
	r = e.decide(q, session, formToken, "maybe")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "decision") {
		t.Errorf("decision=maybe: %d %s, want a 400 page naming decision", r.status, r.body)
	}
}

// TestAuthPlainDefault: a challenge without a method is plain (RFC 7636
// §4.3).
func TestAuthPlainDefault(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	q := authQuery("callback_url", cbLocal, "code_challenge", VPlain)
	codeOf := func() string {
		t.Helper()
		r := e.decide(q, session, formToken, "approve")
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || !strings.HasPrefix(loc, cbLocal+"?code=") {
			t.Fatalf("approve = %d %q", r.status, loc)
		}
		return strings.TrimPrefix(loc, cbLocal+"?code=")
	}
	if x := e.exchange(map[string]any{"code": codeOf(), "code_verifier": VPlain}); x.status != http.StatusOK {
		t.Errorf("plain exchange = %d %s, want 200", x.status, x.body)
	}
	x := e.exchange(map[string]any{"code": codeOf(), "code_verifier": V1, "code_challenge_method": "S256"})
	if x.status != http.StatusBadRequest || x.errMessage(t) != keygate.MsgInvalidMethod {
		t.Errorf("S256 exchange of a plain code = %d %s, want 400 %q", x.status, x.body, keygate.MsgInvalidMethod)
	}
}

// TestAuthHeadless: without callback_url the code is shown on the page,
// never redirected; deny shows a page too.
func TestAuthHeadless(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	q := authQuery("code_challenge", C1, "code_challenge_method", "S256", "state", "ignored")
	page := e.browse("GET", "/auth?"+q, nil, []string{session})
	if page.status != http.StatusOK || !strings.Contains(string(page.body), `id="headless-note"`) {
		t.Fatalf("GET /auth = %d, want the headless consent page:\n%s", page.status, page.body)
	}
	checkPageHeaders(t, page, wantCSP)

	r := e.decide(q, session, formToken, "approve")
	if r.status != http.StatusOK || r.header.Get("Location") != "" {
		t.Fatalf("approve = %d Location %q, want 200 and no redirect", r.status, r.header.Get("Location"))
	}
	checkPageHeaders(t, r, wantCSP)
	m := regexp.MustCompile(`<textarea id="code"[^>]*>([^<]+)</textarea>`).FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("the page shows no code:\n%s", r.body)
	}
	if x := e.exchange(map[string]any{"code": string(m[1]), "code_verifier": V1}); x.status != http.StatusOK {
		t.Errorf("exchange of the shown code = %d %s", x.status, x.body)
	}

	r = e.decide(q, session, formToken, "deny")
	if r.status != http.StatusOK || r.header.Get("Location") != "" || !strings.Contains(string(r.body), "Access denied") {
		t.Errorf("deny = %d %q, want 200 Access denied page", r.status, r.body)
	}
}

// TestAuthConsentPage: the page names the app, marks loopback apps, and
// shows the limit with its reset, the expiry and the key label.
func TestAuthConsentPage(t *testing.T) {
	e := newEnv(t)
	session, _ := e.signIn()
	tests := []struct {
		name  string
		query string
		want  []string
		not   []string
		csp   string
	}{
		{"loopback-no-limit", authQuery("callback_url", "http://127.0.0.1:8787/cb"), []string{
			`id="app-title">127.0.0.1:8787<`, `id="loopback-note"`, `id="limit">No limit<`, `id="expires">Never<`,
			`id="key-label">127.0.0.1:8787<`, `id="workspace">Default<`,
		}, []string{`<select`}, "http://127.0.0.1:8787"},
		{"https-everything", authQuery("callback_url", "https://App.Example.com:8443/cb?x=1", "limit", "25", "usage_limit_type", "weekly",
			"expires_at", "2030-01-01T00:00:00+02:00", "key_label", "CI <key>"), []string{
			`id="app-title">app.example.com<`, `id="app-url">https://app.example.com:8443/cb<`,
			`$25.00, resets every Monday at 00:00 UTC`, `31 December 2029, 22:00 UTC`, `id="key-label">CI &lt;key&gt;<`,
		}, []string{`id="loopback-note"`}, "https://App.Example.com:8443"},
		{"limit-zero-daily", authQuery("callback_url", cbLocal, "limit", "0", "usage_limit_type", "daily"),
			[]string{`$0.00, resets every day at 00:00 UTC`}, nil, "http://localhost:3000"},
		{"limit-fraction-total", authQuery("callback_url", cbLocal, "limit", "0.000125"),
			[]string{`$0.000125 in total`}, nil, "http://localhost:3000"},
		{"ipv6", authQuery("callback_url", "http://[::1]:61023/oauth"), []string{`[::1]:61023`}, nil, "http:"},
		{"vscode", authQuery("callback_url", "vscode://example.vscode-ext/openrouter"), []string{`example.vscode-ext`}, nil, "vscode://example.vscode-ext"},
		{"private-scheme-odd-host", authQuery("callback_url", "my.app://cb_host/x"), nil, nil, "my.app:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.browse("GET", "/auth?"+tt.query, nil, []string{session})
			if r.status != http.StatusOK {
				t.Fatalf("status = %d; body %s", r.status, r.body)
			}
			body := string(r.body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(body, w) {
					t.Errorf("page has %q", w)
				}
			}
			m := regexp.MustCompile(`<form method="post" action="([^"]*)" class="stack">`).FindStringSubmatch(body)
			if want := "/auth?" + tt.query; m == nil || html.UnescapeString(m[1]) != want {
				t.Errorf("the consent form does not post back the same request: got %v, want %s", m, want)
			}
			checkPageHeaders(t, r, strings.Replace(wantCSP, "form-action 'self'", "form-action 'self' "+tt.csp, 1))
		})
	}
}

// TestAuthWorkspacePicker: with several workspaces the page offers them,
// and the chosen one goes through the service's validation.
func TestAuthWorkspacePicker(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	session, formToken := e.signIn()
	def, err := e.store.DefaultWorkspace(ctx, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	team := &keygate.Workspace{ID: uuid.NewString(), UserID: e.user.ID, Name: "Team <A>", Slug: "team", CreatedAt: e.clock.Now()}
	if err := e.store.CreateWorkspace(ctx, team); err != nil {
		t.Fatal(err)
	}
	other, _ := e.newUser("mallory@example.com", false)
	otherWS, _ := e.store.DefaultWorkspace(ctx, other.ID)

	q := authQuery("callback_url", cbLocal, "code_challenge", C1, "code_challenge_method", "S256")
	body := string(e.browse("GET", "/auth?"+q, nil, []string{session}).body)
	for _, w := range []string{`<label for="workspace_id">`, `<option value="` + def.ID + `" selected>Default</option>`, `<option value="` + team.ID + `">Team &lt;A&gt;</option>`} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	preselected := string(e.browse("GET", "/auth?"+q+"&workspace_id="+team.ID, nil, []string{session}).body)
	if !strings.Contains(preselected, `<option value="`+team.ID+`" selected>`) {
		t.Error("workspace_id in the query is not preselected")
	}
	// Another user's workspace in the query is refused before consent.
	if r := e.browse("GET", "/auth?"+q+"&workspace_id="+otherWS.ID, nil, []string{session}); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "workspace_id is not one of your workspaces") {
		t.Errorf("GET /auth with another user's workspace_id = %d %s, want a 400 page", r.status, r.body)
	}

	tests := []struct {
		name, query, chosen, wantWS string
		status                      int
	}{
		{"default", q, "", def.ID, http.StatusFound},
		{"chosen", q, team.ID, team.ID, http.StatusFound},
		{"query", q + "&workspace_id=" + team.ID, "", team.ID, http.StatusFound},
		{"form-wins-over-query", q + "&workspace_id=" + team.ID, def.ID, def.ID, http.StatusFound},
		{"other-users", q, otherWS.ID, "", http.StatusBadRequest},
		{"not-uuid", q, "nope", "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.codesCreated()
			r := e.decide(tt.query, session, formToken, "approve", "workspace_id", tt.chosen)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status != http.StatusFound {
				if !strings.Contains(string(r.body), "workspace_id") || e.codesCreated() != before {
					t.Errorf("want a 400 page naming workspace_id and no code; got %s", r.body)
				}
				return
			}
			code := strings.TrimPrefix(r.header.Get("Location"), cbLocal+"?code=")
			x := e.exchange(map[string]any{"code": code, "code_verifier": V1})
			k := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+x.json(t)["key"].(string))
			if got := k.json(t)["data"].(map[string]any)["workspace_id"]; got != tt.wantWS {
				t.Errorf("key workspace = %v, want %s", got, tt.wantWS)
			}
		})
	}
}

// TestAuthWorkspacePickerAsTheAPI: the consent page takes what the API
// takes: a workspace_id in upper case, and a user's 101st workspace, both
// offered and preselected.
func TestAuthWorkspacePickerAsTheAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	session, _ := e.signIn()
	var last *keygate.Workspace
	for i := range keygate.MaxWorkspacePage {
		e.clock.Advance(time.Second)
		w, err := e.svc.CreateWorkspace(ctx, keygate.NewWorkspaceParams{UserID: e.user.ID, Name: fmt.Sprintf("w%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		last = w
	}
	q := authQuery("callback_url", cbLocal, "code_challenge", C1, "code_challenge_method", "S256")
	for _, id := range []string{last.ID, strings.ToUpper(last.ID)} {
		r := e.browse("GET", "/auth?"+q+"&workspace_id="+id, nil, []string{session})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `<option value="`+last.ID+`" selected>`) {
			t.Errorf("GET /auth with the 101st workspace_id %s = %d, want 200 with it preselected; body %s", id, r.status, r.body)
		}
	}
}

// TestAuthSignInFlow: signed out, /auth shows the sign-in form (after
// validating the request); signing in comes back to the same request with
// a session cookie that is HttpOnly, SameSite=Lax, Path=/.
func TestAuthSignInFlow(t *testing.T) {
	e := newEnv(t)
	q := authQuery("callback_url", "https://app.example.com/cb", "code_challenge", C1, "code_challenge_method", "S256", "state", "s1")
	page := e.browse("GET", "/auth?"+q, nil, nil)
	if page.status != http.StatusOK {
		t.Fatalf("GET /auth = %d", page.status)
	}
	body := string(page.body)
	returnTo := "/auth?" + q
	for _, w := range []string{`action="/login"`, `name="return_to" value="` + strings.ReplaceAll(returnTo, "&", "&amp;") + `"`, "app.example.com"} {
		if !strings.Contains(body, w) {
			t.Errorf("sign-in page lacks %q:\n%s", w, body)
		}
	}
	checkPageHeaders(t, page, wantCSP)
	lc := page.cookie("keygate_login")
	if lc == nil || !lc.HttpOnly || lc.Path != "/login" || lc.SameSite != http.SameSiteStrictMode || lc.Secure {
		t.Fatalf("login cookie = %+v, want HttpOnly, Path=/login, SameSite=Strict, not Secure on http", lc)
	}
	if !strings.Contains(body, `name="form_token" value="`+lc.Value+`"`) {
		t.Error("the form token of the sign-in form is not the login cookie's value")
	}

	r := e.browse("POST", "/login", url.Values{
		"email": {"alice@example.com"}, "password": {testPassword}, "form_token": {lc.Value}, "return_to": {returnTo},
	}, []string{"keygate_login=" + lc.Value})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != returnTo {
		t.Fatalf("POST /login = %d Location %q, want 303 %q; body %s", r.status, r.header.Get("Location"), returnTo, r.body)
	}
	checkPageHeaders(t, r, wantCSP)
	sc := r.cookie("keygate_session")
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure || sc.MaxAge != int((7*24*time.Hour).Seconds()) {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure, Max-Age 7 days", sc)
	}
	if cleared := r.cookie("keygate_login"); cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("the login cookie is not cleared: %+v", cleared)
	}
	if _, err := e.store.Session(context.Background(), sc.Value); !errors.Is(err, keygate.ErrNotFound) {
		t.Errorf("the session is stored under its token, not only its hash (err %v)", err)
	}
	consent := e.browse("GET", returnTo, nil, []string{"keygate_session=" + sc.Value})
	if consent.status != http.StatusOK || !strings.Contains(string(consent.body), `value="approve"`) {
		t.Fatalf("after sign-in GET %s = %d, want the consent page", returnTo, consent.status)
	}
	if strings.Contains(e.logs.String(), sc.Value) || strings.Contains(e.logs.String(), testPassword) {
		t.Error("the logs hold the session token or the password")
	}

	// GET /login while signed in goes on to return_to, or says who is
	// signed in.
	if g := e.browse("GET", "/login?return_to="+url.QueryEscape(returnTo), nil, []string{"keygate_session=" + sc.Value}); g.status != http.StatusSeeOther || g.header.Get("Location") != returnTo {
		t.Errorf("GET /login?return_to signed in = %d %q", g.status, g.header.Get("Location"))
	}
	if g := e.browse("GET", "/login", nil, []string{"keygate_session=" + sc.Value}); g.status != http.StatusOK || !strings.Contains(string(g.body), "alice@example.com") {
		t.Errorf("GET /login signed in = %d %s", g.status, g.body)
	}
}

// TestLoginForm covers the failures of POST /login: a wrong password or
// an unknown email give the same answer, a missing or different form
// token is refused, and return_to never leaves the site.
func TestLoginForm(t *testing.T) {
	e := newEnv(t)
	token := keygate.NewToken()
	cookie := "keygate_login=" + token
	form := func(email, password, formToken, returnTo string) url.Values {
		return url.Values{"email": {email}, "password": {password}, "form_token": {formToken}, "return_to": {returnTo}}
	}
	failures := []struct {
		name    string
		form    url.Values
		cookies []string
		status  int
		message string
	}{
		{"wrong-password", form("alice@example.com", "wrong horse", token, ""), []string{cookie}, 401, "Wrong email or password"},
		{"unknown-email", form("bob@example.com", testPassword, token, ""), []string{cookie}, 401, "Wrong email or password"},
		{"empty", form("", "", token, ""), []string{cookie}, 401, "Wrong email or password"},
		{"no-login-cookie", form("alice@example.com", testPassword, token, ""), nil, 403, "expired"},
		{"other-form-token", form("alice@example.com", testPassword, keygate.NewToken(), ""), []string{cookie}, 403, "expired"},
		{"empty-form-token", form("alice@example.com", testPassword, "", ""), []string{"keygate_login="}, 403, "expired"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			r := e.browse("POST", "/login", tt.form, tt.cookies)
			if r.status != tt.status || !strings.Contains(string(r.body), tt.message) {
				t.Fatalf("status = %d, want %d with %q; body %s", r.status, tt.status, tt.message, r.body)
			}
			if r.cookie("keygate_session") != nil {
				t.Error("a failed sign-in set a session cookie")
			}
			if strings.Contains(string(r.body), tt.form.Get("password")) && tt.form.Get("password") != "" {
				t.Error("the page echoes the password")
			}
		})
	}

	redirects := []struct{ name, returnTo, want string }{
		{"auth-request", "/auth?callback_url=x", "/auth?callback_url=x"},
		{"absolute", "https://evil.example/auth?x", "/login"},
		{"scheme-relative", "//evil.example/auth?x", "/login"},
		{"backslash", "/auth?\\evil", "/login"},
		{"other-path", "/logout", "/login"},
		{"auth-without-query", "/auth", "/login"},
		{"newline", "/auth?x\r\nSet-Cookie: a=b", "/login"},
		{"empty", "", "/login"},
	}
	for _, tt := range redirects {
		t.Run("return-to-"+tt.name, func(t *testing.T) {
			r := e.browse("POST", "/login", form("alice@example.com", testPassword, token, tt.returnTo), []string{cookie})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != tt.want {
				t.Errorf("Location = %q (status %d), want %q", r.header.Get("Location"), r.status, tt.want)
			}
		})
	}
}

// TestLoginSecureCookie: with an https public URL every cookie is Secure.
func TestLoginSecureCookie(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(server.New(e.svc, server.Config{PublicURL: "https://keys.example.com"}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	page := browseURL(t, srv.URL+"/login", "GET", nil, nil)
	lc := page.cookie("keygate_login")
	if lc == nil || !lc.Secure {
		t.Fatalf("login cookie = %+v, want Secure", lc)
	}
	r := browseURL(t, srv.URL+"/login", "POST", url.Values{
		"email": {"alice@example.com"}, "password": {testPassword}, "form_token": {lc.Value},
	}, []string{"keygate_login=" + lc.Value})
	if sc := r.cookie("keygate_session"); sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie = %+v, want Secure, HttpOnly, SameSite=Lax", sc)
	}
}

// TestBrowserCSRF: state-changing forms need the session's form token, and
// cross-origin POSTs are refused by http.CrossOriginProtection before any
// handler runs.
func TestBrowserCSRF(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	q := authQuery("callback_url", cbLocal, "code_challenge", C1, "code_challenge_method", "S256")
	tests := []struct {
		name    string
		path    string
		form    url.Values
		headers []string
	}{
		{"approve-no-token", "/auth?" + q, url.Values{"decision": {"approve"}}, nil},
		{"approve-wrong-token", "/auth?" + q, url.Values{"decision": {"approve"}, "form_token": {keygate.NewToken()}}, nil},
		{"deny-wrong-token", "/auth?" + q, url.Values{"decision": {"deny"}, "form_token": {formToken + "x"}}, nil},
		{"approve-cross-site", "/auth?" + q, url.Values{"decision": {"approve"}, "form_token": {formToken}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"approve-other-origin", "/auth?" + q, url.Values{"decision": {"approve"}, "form_token": {formToken}}, []string{"Origin", "https://evil.example"}},
		{"logout-wrong-token", "/logout", url.Values{"form_token": {"nope"}}, nil},
		{"logout-cross-site", "/logout", url.Values{"form_token": {formToken}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"login-cross-site", "/login", url.Values{"email": {"alice@example.com"}, "password": {testPassword}}, []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.browse("POST", tt.path, tt.form, []string{session}, tt.headers...)
			if r.status != http.StatusForbidden || r.header.Get("Location") != "" {
				t.Fatalf("status = %d Location %q, want 403 and no redirect; body %s", r.status, r.header.Get("Location"), r.body)
			}
			checkPageHeaders(t, r, wantCSP)
			if e.codesCreated() != 0 {
				t.Error("a code was created")
			}
			if r.cookie("keygate_session") != nil {
				t.Error("the session cookie was changed")
			}
		})
	}
	// The session survived every refused logout.
	if r := e.browse("GET", "/auth?"+q, nil, []string{session}); !strings.Contains(string(r.body), `value="approve"`) {
		t.Error("the session ended after a refused request")
	}
	// A same-origin browser POST with the right token passes.
	if r := e.decide(q, session, formToken, "approve"); r.status != http.StatusFound {
		t.Errorf("same-origin approve = %d %s", r.status, r.body)
	}
	if r := e.browse("POST", "/auth?"+q, url.Values{"decision": {"deny"}, "form_token": {formToken}}, []string{session}, "Sec-Fetch-Site", "same-origin"); r.status != http.StatusFound {
		t.Errorf("Sec-Fetch-Site: same-origin deny = %d", r.status)
	}
}

// TestLogout: the session row is deleted, the cookie cleared, and the next
// /auth asks to sign in again.
func TestLogout(t *testing.T) {
	e := newEnv(t)
	session, formToken := e.signIn()
	token := strings.TrimPrefix(session, "keygate_session=")
	q := authQuery("callback_url", cbLocal)
	r := e.browse("POST", "/logout", url.Values{"form_token": {formToken}, "return_to": {"/auth?" + q}}, []string{session})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/auth?"+q {
		t.Fatalf("POST /logout = %d %q", r.status, r.header.Get("Location"))
	}
	if c := r.cookie("keygate_session"); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("session cookie = %+v, want it cleared", c)
	}
	if _, err := e.store.Session(context.Background(), keygate.HashSecret(token)); !errors.Is(err, keygate.ErrNotFound) {
		t.Errorf("session row after logout: %v, want ErrNotFound", err)
	}
	page := e.browse("GET", "/auth?"+q, nil, []string{session})
	if !strings.Contains(string(page.body), `action="/login"`) {
		t.Error("after logout /auth does not ask to sign in")
	}
	if r := e.decide(q, session, formToken, "approve"); r.status != http.StatusOK || !strings.Contains(string(r.body), `action="/login"`) || e.codesCreated() != 0 {
		t.Errorf("approve with an ended session = %d, want the sign-in form and no code", r.status)
	}
	// Signing out again, or without a session, is harmless.
	if r := e.browse("POST", "/logout", url.Values{}, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("POST /logout signed out = %d %q", r.status, r.header.Get("Location"))
	}
}

// TestSessionExpiry: a session older than SessionTTL no longer counts.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, func(c *keygate.Config) { c.SessionTTL = time.Hour })
	session, _ := e.signIn()
	q := authQuery("callback_url", cbLocal)
	e.clock.Advance(time.Hour - time.Second)
	if r := e.browse("GET", "/auth?"+q, nil, []string{session}); !strings.Contains(string(r.body), `value="approve"`) {
		t.Fatal("a session a second before expiry is not accepted")
	}
	e.clock.Advance(time.Second)
	if r := e.browse("GET", "/auth?"+q, nil, []string{session}); !strings.Contains(string(r.body), `action="/login"`) {
		t.Error("an expired session is still accepted")
	}
}

// TestHomePage: GET / says what this keygate is, with its API base URL
// and a sign-in link, or the signed-in user; it is a page like the others.
func TestHomePage(t *testing.T) {
	e := newEnv(t)
	r := e.browse("GET", "/", nil, nil)
	checkPageHeaders(t, r, wantCSP)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `href="/login?return_to=%2F" class="button primary" id="sign-in"`) ||
		!strings.Contains(string(r.body), "http://keygate.test/api/v1") {
		t.Errorf("GET / = %d %s, want the API base URL and a sign-in link", r.status, r.body)
	}
	cookie, _ := e.signIn()
	r = e.browse("GET", "/", nil, []string{cookie})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "alice@example.com") || strings.Contains(string(r.body), `id="sign-in"`) {
		t.Errorf("GET / signed in = %d %s, want the user's email", r.status, r.body)
	}
	if r := e.browse("GET", "/nothing-here", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %d, want 404", r.status)
	}
}

// TestBrowserRoutes covers the static assets and methods the browser mux
// does not serve.
func TestBrowserRoutes(t *testing.T) {
	e := newEnv(t)
	css := e.browse("GET", "/static/style.css", nil, nil)
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		css.header.Get("Cache-Control") != "public, max-age=3600" || css.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /static/style.css = %d %v", css.status, css.header)
	}
	if r := e.browse("GET", "/static/missing.css", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /static/missing.css = %d, want 404", r.status)
	}
	// No directory is listed.
	if r := e.browse("GET", "/static/", nil, nil); r.status != http.StatusNotFound || strings.Contains(string(r.body), "style.css") {
		t.Errorf("GET /static/ = %d %.100q, want 404 without a listing", r.status, r.body)
	}
	for _, c := range []struct{ method, path string }{{"PUT", "/auth"}, {"DELETE", "/login"}, {"GET", "/logout"}} {
		if r := e.browse(c.method, c.path, nil, nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 405", c.method, c.path, r.status)
		}
	}
	// The API is untouched: JSON, not pages.
	if r := e.browse("GET", "/api/v1/key", nil, nil); r.status != http.StatusUnauthorized || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /api/v1/key = %d %q", r.status, r.header.Get("Content-Type"))
	}
}
