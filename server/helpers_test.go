package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/server"
)

// PKCE fixtures: RFC 7636 Appendix B and values derived from it.
const (
	V1      = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	C1      = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	C1Pad   = C1 + "="
	C1Std   = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
	VPlain  = "plain-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	VUUID   = "3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f"
	CUUID   = "bkZx9pfqaU_J-l41ZBFeuRtwamFBbOPED3PfU4Y8t_4"
	C129    = "5xGMOom_gU3tKrIyMDVlI5JT9Z_eqT4n0CBuF1SS46c"
	cbLocal = "http://localhost:3000/cb"
)

// testHasher keeps password hashing cheap in tests.
var testHasher = keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

// env is a keygate server on a real store (see testEngine) with one user, an ordinary
// key and a management key.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	svc     *keygate.Service
	store   keygate.Store
	clock   *clock
	logs    *bytes.Buffer
	user    *keygate.User
	userKey string
	mgmtKey string
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

type envOption func(*keygate.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	db := openTestStore(t)
	cfg := keygate.DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	clk := &clock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := keygate.NewService(db, cfg, keygate.WithClock(clk.Now), keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher))
	h := server.New(svc, server.Config{PublicURL: "http://keygate.test"}, log)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, svc: svc, store: db, clock: clk, logs: logs}
	e.user, e.userKey = e.newUser("alice@example.com", false)
	e.mgmtKey, _, _ = e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "mgmt", IsManagement: true})
	return e
}

// newUser creates a user and an ordinary key of theirs.
func (e *env) newUser(email string, management bool) (*keygate.User, string) {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), email, "correct horse battery staple")
	if err != nil {
		e.t.Fatal(err)
	}
	key, _, err := e.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: u.ID, Name: "user key", IsManagement: management})
	if err != nil {
		e.t.Fatal(err)
	}
	return u, key
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// errMessage returns error.message of an error body, failing the test when
// the body is not {"error":{"code":status,"message":...}}.
func (r *response) errMessage(t *testing.T) string {
	t.Helper()
	var b struct {
		Error *struct {
			Code    *int    `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error == nil || b.Error.Code == nil || b.Error.Message == nil {
		t.Fatalf("body %q is not an error body", r.body)
	}
	if *b.Error.Code != r.status {
		t.Fatalf("error.code = %d, want the status %d", *b.Error.Code, r.status)
	}
	return *b.Error.Message
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON). headers alternate names and values.
func (e *env) do(method, path string, body any, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// code creates an authorization code with the user's key and returns it.
func (e *env) code(body map[string]any, headers ...string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/keys/code", body, append([]string{"Authorization", "Bearer " + e.userKey}, headers...)...)
	if r.status != http.StatusOK {
		e.t.Fatalf("create code: %d %s", r.status, r.body)
	}
	return r.json(e.t)["data"].(map[string]any)["id"].(string)
}

// exchange posts body to /api/v1/auth/keys.
func (e *env) exchange(body any) *response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/keys", body)
}

// s256Body is a valid code request with the C1 challenge.
func s256Body(extra ...any) map[string]any {
	m := map[string]any{"callback_url": cbLocal, "code_challenge": C1, "code_challenge_method": "S256"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}
