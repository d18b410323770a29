package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/sqlite"
)

// The fuzz targets of the HTTP layer drive the real handler (server.New
// over a Service on a SQLite file, or on PostgreSQL under
// KEYGATE_TEST_ENGINE=postgres) with httptest.NewRecorder. Their common
// property: whatever the input, no panic and no 5xx; every error answer of
// the API is the JSON error shape with code equal to the status.

// fuzzEnv is a keygate handler on a SQLite file in a temporary folder,
// with a user, an ordinary key, a management key, a spare key and a spare
// workspace for the PATCH and DELETE routes, and a browser session.
type fuzzEnv struct {
	h         http.Handler
	svc       *keygate.Service
	userID    string
	userKey   string
	mgmtKey   string
	spareHash string
	spareWS   string
	defaultWS string
	session   string
	csrf      string
}

// fuzzClock is fixed: a fuzz input cannot depend on when it runs.
var fuzzClock = func() time.Time { return time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) }

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	// The engine of the HTTP tests (see testEngine): CI also runs the
	// seed corpora on PostgreSQL, whose text type refuses bytes SQLite
	// takes.
	var db keygate.Store
	if testEngine == "postgres" {
		db = pgtest.Open(tb)
	} else {
		lite, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "keygate.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { lite.Close() })
		db = lite
	}
	log := slog.New(slog.DiscardHandler)
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithClock(fuzzClock), keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher))
	e := &fuzzEnv{h: server.New(svc, server.Config{PublicURL: "http://keygate.test"}, log), svc: svc}
	u, err := svc.CreateUser(ctx, "alice@example.com", "correct horse battery staple")
	if err != nil {
		tb.Fatal(err)
	}
	e.userID = u.ID
	must := func(key string, _ *keygate.APIKey, err error) string {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return key
	}
	e.userKey = must(svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "user key"}))
	e.mgmtKey = must(svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "mgmt", IsManagement: true}))
	e.spareHash = keygate.HashSecret(must(svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "spare"})))
	ws, err := svc.CreateWorkspace(ctx, keygate.NewWorkspaceParams{UserID: u.ID, Name: "Spare"})
	if err != nil {
		tb.Fatal(err)
	}
	e.spareWS = ws.ID
	def, err := db.DefaultWorkspace(ctx, u.ID)
	if err != nil {
		tb.Fatal(err)
	}
	e.defaultWS = def.ID
	if e.session, err = svc.Login(ctx, "alice@example.com", "correct horse battery staple"); err != nil {
		tb.Fatal(err)
	}
	_, sess, err := svc.SessionUser(ctx, e.session)
	if err != nil {
		tb.Fatal(err)
	}
	e.csrf = sess.CSRFToken
	return e
}

// serve sends r to the handler and checks the common property.
func (e *fuzzEnv) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("%s %s: status %d, body %s", r.Method, r.URL, w.Code, w.Body)
	}
	if w.Code >= 400 && strings.HasPrefix(r.URL.Path, "/api/") {
		checkErrorShape(t, w)
	}
	return w
}

// checkErrorShape fails unless w's body is {"error":{"code":status,
// "message":"…"}} with a non-empty, valid UTF-8 message.
func checkErrorShape(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var b struct {
		Error *struct {
			Code    *int    `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error == nil || b.Error.Code == nil || b.Error.Message == nil {
		t.Fatalf("status %d: body %q is not the JSON error shape", w.Code, w.Body)
	}
	if *b.Error.Code != w.Code || *b.Error.Message == "" || !utf8.ValidString(*b.Error.Message) {
		t.Fatalf("status %d: error %d %q", w.Code, *b.Error.Code, *b.Error.Message)
	}
}

func newRequest(method, target, body, contentType string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// FuzzCreateAuthCodeBody: POST /api/v1/auth/keys/code with any body,
// content type and attribution headers. A 200 carries a URL-safe code and
// an app_id; anything else is a 4xx error body.
func FuzzCreateAuthCodeBody(f *testing.F) {
	ws := "3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f"
	for _, b := range []string{
		`{"callback_url":"http://localhost:3000/cb","code_challenge":"` + C1 + `","code_challenge_method":"S256"}`,
		`{"callback_url":"https://app.example.com/cb","limit":25,"usage_limit_type":"weekly","expires_at":"2030-01-01T00:00:00Z","key_label":"CI key"}`,
		`{"callback_url":"http://localhost:3000/cb","limit":1e309}`, `{"callback_url":"http://localhost:3000/cb","limit":"100"}`,
		`{"callback_url":"http://localhost:3000/cb","workspace_id":"` + ws + `"}`, `{"callback_url":"javascript:alert(1)"}`,
		`{"callback_url":"http://localhost:3000/cb","callback_url":"https://evil.example"}`, `{"callback_url":`, ``, `[]`, `null`,
		`{"callback_url":"http://localhost:3000/cb","key_label":"` + strings.Repeat("é", 101) + `"}`,
		`{"callback_url":"http://localhost:3000/cb","expires_at":"2030-01-01T00:00:00"}`, `{"callback_url":"\u0000"}`,
	} {
		f.Add(b, "application/json", "", "", "")
	}
	f.Add(`callback_url=http://localhost:3000/cb`, "application/x-www-form-urlencoded", "https://myapp.example", "My App", "cli-agent")
	f.Add(`{"callback_url":"https://cb.example/x"}`, "text/plain", "HTTPS://MyApp.example:443/", "\x7f", "CLI-Agent, bad!,x")
	f.Add(`{"callback_url":"https://cb.example/x"}`, "application/json; charset=\"", "//x", "", strings.Repeat("a,", 30))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body, contentType, referer, title, categories string) {
		r := newRequest("POST", "/api/v1/auth/keys/code", body, contentType)
		r.Header.Set("Authorization", "Bearer "+e.userKey)
		r.Header.Set("HTTP-Referer", referer)
		r.Header.Set("X-OpenRouter-Title", title)
		r.Header.Set("X-OpenRouter-Categories", categories)
		w := e.serve(t, r)
		if w.Code != http.StatusOK {
			return
		}
		var ok struct {
			Data struct {
				ID    string `json:"id"`
				AppID *int64 `json:"app_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &ok); err != nil || ok.Data.AppID == nil || len(ok.Data.ID) < 43 ||
			strings.Trim(ok.Data.ID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
			t.Fatalf("200 body %s: want data.id (URL-safe) and data.app_id", w.Body)
		}
	})
}

// codePlaceholder in an exchange body is replaced by a fresh code whose
// challenge is C1 (S256 of V1), so the fuzzer reaches past "unknown code".
const codePlaceholder = "{{CODE}}"

// FuzzExchangeBody: POST /api/v1/auth/keys with any body and content type.
// No 5xx; a 200 only for a body that names a live code, and its key works.
func FuzzExchangeBody(f *testing.F) {
	for _, b := range []string{
		`{"code":"{{CODE}}","code_verifier":"` + V1 + `","code_challenge_method":"S256"}`,
		`{"code":"{{CODE}}","code_verifier":"` + V1 + `","code_challenge_method":null}`,
		`{"code":"{{CODE}}","code_verifier":"` + C1 + `","code_challenge_method":"plain"}`,
		`{"code":"{{CODE}}","code_verifier":"` + V1 + `","grant_type":"authorization_code","redirect_uri":"x"}`,
		`{"code":"{{CODE}}","code":"{{CODE}}"}`, `{"code":5}`, `{"code":"does-not-exist","code_verifier":"` + V1 + `"}`,
		`{bad json`, `{}`, ``, `"{{CODE}}"`, `{"code":"{{CODE}}","code_verifier":"` + strings.Repeat("A", 129) + `"}`,
	} {
		f.Add(b, "application/json")
	}
	f.Add("code={{CODE}}&code_verifier="+V1+"&code_challenge_method=S256", "application/x-www-form-urlencoded")
	f.Add("code={{CODE}}&code=x", "application/x-www-form-urlencoded")
	f.Add(`{"code":"{{CODE}}","code_verifier":"`+V1+`"}`, "Application/JSON; charset=utf-8")
	f.Add(`<code/>`, "application/xml")
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body, contentType string) {
		hasCode := strings.Contains(body, codePlaceholder)
		if hasCode {
			c, err := e.svc.CreateAuthCode(context.Background(), keygate.Actor{UserID: e.userID},
				&keygate.AuthCodeRequest{CallbackURL: cbLocal, CodeChallenge: C1, CodeChallengeMethod: "S256"}, keygate.Attribution{})
			if err != nil {
				t.Fatal(err)
			}
			body = strings.ReplaceAll(body, codePlaceholder, c.Code)
		}
		w := e.serve(t, newRequest("POST", "/api/v1/auth/keys", body, contentType))
		if w.Code != http.StatusOK {
			return
		}
		if !hasCode {
			t.Fatalf("200 for a body without a live code: %q", body)
		}
		var ok struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &ok); err != nil || !keygate.WellFormedKey(ok.Key) {
			t.Fatalf("200 body %s: want a well-formed key", w.Body)
		}
		r := newRequest("GET", "/api/v1/key", "", "")
		r.Header.Set("Authorization", "Bearer "+ok.Key)
		if w := e.serve(t, r); w.Code != http.StatusOK {
			t.Fatalf("the exchanged key does not work: GET /api/v1/key = %d", w.Code)
		}
	})
}

// managementRoutes are the routes FuzzManagementRequest drives; {hash} and
// {ws} become the spare key and workspace, {arg} the fuzzed path segment.
var managementRoutes = []struct {
	method, path string
	query        bool // the fuzzed input is the query string, not the body
}{
	{"POST", "/api/v1/keys", false},
	{"PATCH", "/api/v1/keys/{hash}", false},
	{"GET", "/api/v1/keys", true},
	{"POST", "/api/v1/workspaces", false},
	{"PATCH", "/api/v1/workspaces/{ws}", false},
	{"GET", "/api/v1/workspaces", true},
	{"GET", "/api/v1/keys/{arg}", false},
	{"GET", "/api/v1/workspaces/{arg}", false},
	{"DELETE", "/api/v1/workspaces/{arg}", false},
}

// FuzzManagementRequest: the key management and workspace API with any
// body, query or path segment, authenticated with a management key.
func FuzzManagementRequest(f *testing.F) {
	for i, seeds := range [][]string{
		{`{"name":"k","limit":10,"limit_reset":"daily","expires_at":"2030-01-01T00:00:00Z","include_byok_in_limit":true}`,
			`{"name":"k","expires_at":"2030-01-01T00:00:00+02:00"}`, `{"name":""}`, `{"name":"k","limit":-1}`,
			`{"name":"k","workspace_id":"not-a-uuid"}`, `{"name":"` + strings.Repeat("é", 101) + `"}`, `{"name":null}`},
		{`{"disabled":false,"limit":null,"limit_reset":null}`, `{"name":"renamed"}`, `{"expires_at":"2030-01-01T00:00:00Z"}`,
			`{"disabled":"yes"}`, `{"limit":1e309}`, `{"name":null}`},
		{`include_disabled=true&offset=0`, `offset=-1`, `offset=%zz`, `include_disabled=maybe`, `workspace_id=`, `offset=99999999999999999999`},
		{`{"name":"Team","slug":"team","description":"d"}`, `{"name":"x","slug":""}`, `{"name":"x","slug":"Not A Slug"}`, `{"name":` + `"` + strings.Repeat("w", 101) + `"}`,
			`{"name":"S","default_text_model":"openai/gpt-4o","default_provider_sort":"price","io_logging_api_key_ids":[1,2],"io_logging_sampling_rate":1,"is_observability_broadcast_enabled":true}`,
			`{"name":"S","io_logging_sampling_rate":0}`, `{"name":"S","io_logging_api_key_ids":[9007199254740993]}`, `{"name":"S","disabled_server_tools":"x"}`},
		{`{"name":"n","slug":"s","description":null}`, `{"slug":null}`, `{"description":"` + strings.Repeat("d", 501) + `"}`,
			`{"default_text_model":null,"io_logging_api_key_ids":[],"disabled_server_tools":["openrouter:bash"],"io_logging_sampling_rate":0.0001}`,
			`{"io_logging_sampling_rate":null}`, `{"io_logging_api_key_ids":[1.5]}`, `{"default_provider_sort":"exacto","is_data_discount_logging_enabled":null}`},
		{`offset=0&limit=100`, `limit=0`, `limit=101`, `offset=1e3`},
		{`nope`, strings.Repeat("0", 64), `..`, `%2F`},
		{`default`, `not-a-uuid`, `3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f`},
		{`default`, `3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f`},
	} {
		for _, s := range seeds {
			f.Add(uint8(i), s)
		}
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, route uint8, input string) {
		rt := managementRoutes[int(route)%len(managementRoutes)]
		path := strings.NewReplacer("{hash}", e.spareHash, "{ws}", e.spareWS).Replace(rt.path)
		body := input
		var r *http.Request
		switch {
		case strings.Contains(path, "{arg}"):
			r = newRequest(rt.method, strings.Replace(path, "{arg}", "x", 1), "", "")
			r.URL.RawPath = ""
			r.URL.Path = strings.Replace(path, "{arg}", input, 1)
			if r.URL.Path == strings.Replace(path, "{arg}", e.defaultWS, 1) {
				return // deleting the default workspace is a 403 worth no fuzzing
			}
		case rt.query:
			r = newRequest(rt.method, path, "", "")
			r.URL.RawQuery = input
		default:
			r = newRequest(rt.method, path, body, "application/json")
		}
		r.Header.Set("Authorization", "Bearer "+e.mgmtKey)
		e.serve(t, r)
	})
}

// FuzzAuthQuery: GET /auth with any query, signed in or not, and POST
// /auth (Approve) with any query. No 5xx; a redirect goes only to a
// callback_url that CheckCallbackURL accepts, which it starts with
// byte-for-byte, and carries a code; pages carry the strict headers.
func FuzzAuthQuery(f *testing.F) {
	for _, q := range []string{
		"callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb&code_challenge=" + C1 + "&code_challenge_method=S256",
		"callback_url=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback&state=st%2B1%20%2F%3D&response_type=code&client_id=x&key_label=gptme",
		"callback_url=https%3A%2F%2Fapp.example.com%2F%23%2Foauth", "callback_url=javascript%3Aalert(1)",
		"callback_url=http%3A%2F%2Flocalhost.evil.example%2Fcb", "code_challenge=" + C1 + "&code_challenge_method=S256",
		"callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb&callback_url=https%3A%2F%2Fevil.example",
		"callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb%3Fa%3D1&limit=1e309&expires_at=2030-01-01T00:00:00Z",
		"callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb&workspace_id=3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f",
		"callback_url=vscode%3A%2F%2Fext.id%2Fcb&limit=5&usage_limit_type=weekly", "%zz", "state=" + strings.Repeat("s", 3000), "",
	} {
		f.Add(q, uint8(0))
		f.Add(q, uint8(1))
		f.Add(q, uint8(2))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, query string, mode uint8) {
		var r *http.Request
		switch mode % 3 {
		case 0: // not signed in
			r = newRequest("GET", "/auth", "", "")
		case 1: // signed in: the consent page
			r = newRequest("GET", "/auth", "", "")
			r.AddCookie(&http.Cookie{Name: "keygate_session", Value: e.session})
		case 2: // Approve
			form := url.Values{"decision": {"approve"}, "form_token": {e.csrf}}
			r = newRequest("POST", "/auth", form.Encode(), "application/x-www-form-urlencoded")
			r.AddCookie(&http.Cookie{Name: "keygate_session", Value: e.session})
		}
		r.URL.RawQuery = query
		w := e.serve(t, r)
		if w.Header().Get("X-Frame-Options") != "DENY" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("/auth?%s: status %d without the anti-framing headers", query, w.Code)
		}
		if w.Code != http.StatusFound {
			return
		}
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("302 for a query that does not parse: %q", query)
		}
		cb := v.Get("callback_url")
		if _, err := keygate.CheckCallbackURL(cb); err != nil {
			t.Fatalf("302 to an invalid callback_url %q: %v", cb, err)
		}
		loc := w.Header().Get("Location")
		if !strings.HasPrefix(loc, cb) {
			t.Fatalf("Location %q does not start with the callback %q", loc, cb)
		}
		lu, err := url.Parse(loc)
		if err != nil || lu.Query().Get("code") == "" {
			t.Fatalf("Location %q carries no code (%v)", loc, err)
		}
	})
}

// FuzzBearerHeader: GET /api/v1/key with any Authorization value. 401 for
// anything but the user's key (RFC 6750 §2.1: "Bearer" in any case, then
// the credential); the error never echoes the header.
func FuzzBearerHeader(f *testing.F) {
	for _, h := range []string{
		"Bearer {{KEY}}", "bearer {{KEY}}", "BEARER  {{KEY}} ", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "{{KEY}}",
		"Bearer sk-kg-v1-invalid", "Bearer sk-kg-v1-" + strings.Repeat("0", 64), "Bearer {{KEY}}x", "Bearer\t{{KEY}}",
		"Bearer {{KEY}}, Bearer other", "Bearer \x00", "",
	} {
		f.Add(h)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, header string) {
		header = strings.ReplaceAll(header, "{{KEY}}", e.userKey)
		r := newRequest("GET", "/api/v1/key", "", "")
		r.Header.Set("Authorization", header)
		w := e.serve(t, r)
		switch w.Code {
		case http.StatusOK:
			scheme, cred, _ := strings.Cut(header, " ")
			if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(cred) != e.userKey {
				t.Fatalf("Authorization %q: 200, but it does not carry the key as a bearer credential", header)
			}
		case http.StatusUnauthorized:
			if header == "Bearer "+e.userKey {
				t.Fatalf("Authorization %q: 401 for the user's own key", header)
			}
			if _, cred, _ := strings.Cut(header, " "); len(cred) >= 16 && strings.Contains(w.Body.String(), cred) {
				t.Fatalf("401 body %s echoes the credential", w.Body)
			}
		default:
			t.Fatalf("Authorization %q: status %d, want 200 or 401", header, w.Code)
		}
	})
}

// FuzzLoginForm: POST /login with any body. The form token placeholder
// {{TOKEN}} stands for a valid pre-session token (its cookie is sent), so
// the fuzzer reaches the password check. No 5xx; a session cookie only
// for the right password; return_to never leads off-site.
func FuzzLoginForm(f *testing.F) {
	for _, b := range []string{
		"email=alice%40example.com&password=correct+horse+battery+staple&form_token={{TOKEN}}&return_to=%2Fauth%3Fcallback_url%3Dx",
		"email=alice%40example.com&password=wrong&form_token={{TOKEN}}",
		"email=ALICE%40EXAMPLE.COM&password=correct+horse+battery+staple&form_token={{TOKEN}}&return_to=%2F%2Fevil.example",
		"email=alice%40example.com&password=correct+horse+battery+staple&form_token={{TOKEN}}&return_to=https%3A%2F%2Fevil.example",
		"email=alice%40example.com&password=correct+horse+battery+staple&form_token=forged",
		"email=&password=&form_token={{TOKEN}}", "%zz", "", "email=a&email=b&form_token={{TOKEN}}",
		"password=" + strings.Repeat("p", 2000) + "&form_token={{TOKEN}}",
	} {
		f.Add(b)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		token := keygate.NewToken()
		r := newRequest("POST", "/login", strings.ReplaceAll(body, "{{TOKEN}}", token), "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: "keygate_login", Value: token})
		w := e.serve(t, r)
		signedIn := false
		for _, c := range w.Result().Cookies() {
			signedIn = signedIn || c.Name == "keygate_session" && c.Value != ""
		}
		if signedIn && !strings.Contains(body, "password=correct+horse+battery+staple") && !strings.Contains(body, "password=correct%20horse") {
			v, _ := url.ParseQuery(body)
			if v.Get("password") != "correct horse battery staple" {
				t.Fatalf("session cookie for a form without the right password: %q", body)
			}
		}
		if loc := w.Header().Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\")) {
			t.Fatalf("redirect off-site to %q", loc)
		}
	})
}
