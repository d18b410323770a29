package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/gateway/upstreamtest"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/sqlite"
)

// modelsYAML is the models file of the tests: t/cheap at 0.50/1.50 USD per
// million tokens (µ$ per token), t/up charged at the upstream's cost,
// t/* at 0.10/0.10, t/slow on an upstream with a short timeout, t/down on
// one that refuses connections.
const modelsYAML = `
upstreams:
  tu:
    base_url: %[1]s/v1
    api_key_env: TU_KEY
    timeout: 5s
  tu-fast:
    base_url: %[1]s/v1
    timeout: 300ms
  down:
    base_url: http://127.0.0.1:%[2]d/v1
models:
  - {name: t/cheap, upstream: tu, upstream_model: cheap-v2, pricing: {prompt: 0.50, completion: 1.50}}
  - {name: t/up, upstream: tu, pricing: upstream}
  - {name: "t/*", upstream: tu, pricing: {prompt: 0.10, completion: 0.10}}
  - {name: t/slow, upstream: tu-fast, pricing: {prompt: 0.50, completion: 1.50}}
  - {name: t/down, upstream: down, pricing: {prompt: 0.50, completion: 1.50}}
`

const upstreamKey = "sk-up-0123456789abcdef"

var testHasher = keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

// env is a real keygate (SQLite file, server and gateway on loopback) in
// front of a scripted upstream.
type env struct {
	t    testing.TB
	srv  *httptest.Server
	svc  *keygate.Service
	gw   *gateway.Gateway
	up   *upstreamtest.Server
	user *keygate.User
	logs *syncBuffer

	mu      sync.Mutex
	replies map[string]upstreamtest.Reply // by the model the upstream is asked for
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEngine is the store the tests run on, from KEYGATE_TEST_ENGINE:
// "sqlite" (the default) or "postgres" (a fresh schema per test in the
// database of KEYGATE_TEST_POSTGRES).
var testEngine = os.Getenv("KEYGATE_TEST_ENGINE")

func openTestStore(t testing.TB) keygate.Store {
	t.Helper()
	switch testEngine {
	case "", "sqlite":
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	case "postgres":
		return pgtest.Open(t)
	}
	t.Fatalf("KEYGATE_TEST_ENGINE=%q: want sqlite or postgres", testEngine)
	return nil
}

// newEnv starts an env; opts are added to the service's (a clock).
func newEnv(t testing.TB, opts ...keygate.Option) *env {
	t.Helper()
	e := &env{t: t, replies: map[string]upstreamtest.Reply{}, logs: &syncBuffer{}}
	e.up = upstreamtest.New(func(r *upstreamtest.Request) upstreamtest.Reply {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.replies[r.Model]
	})
	t.Cleanup(e.up.Close)
	// A port nothing listens on, for the upstream that cannot be reached.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg, err := gateway.ParseConfig(fmt.Appendf(nil, modelsYAML, e.up.URL, closedPort), func(k string) string {
		if k == "TU_KEY" {
			return upstreamKey
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	db := openTestStore(t)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]keygate.Option{keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher)}, opts...)
	e.svc = keygate.NewService(db, keygate.DefaultConfig(), opts...)
	e.gw = gateway.New(e.svc, cfg, gateway.Options{Logger: log, MaxBody: 64 << 10})
	e.srv = httptest.NewServer(server.New(e.svc, server.Config{PublicURL: "http://keygate.test", Gateway: e.gw.Handlers()}, log))
	t.Cleanup(e.srv.Close)
	if e.user, err = e.svc.CreateUser(t.Context(), "alice@example.com", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	return e
}

// script makes the upstream answer requests for model (the upstream's
// name) with rep.
func (e *env) script(model string, rep upstreamtest.Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.replies[model] = rep
}

// key mints a key of the user with a limit in USD (nil: none).
func (e *env) key(limitUSD *float64) string {
	e.t.Helper()
	k, _, err := e.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: e.user.ID, Name: "k", LimitUSD: limitUSD})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func usd(v float64) *float64 { return &v }

type response struct {
	status int
	header http.Header
	body   []byte
}

// post sends body (a JSON value) to path with key; headers alternate names
// and values.
func (e *env) post(path, key string, body any, headers ...string) *response {
	e.t.Helper()
	b, ok := body.(string)
	if !ok {
		j, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		b = string(j)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(b))
	return e.send(req, key, headers...)
}

func (e *env) get(path, key string) *response {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	return e.send(req, key)
}

func (e *env) send(req *http.Request, key string, headers ...string) *response {
	e.t.Helper()
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
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

// errMessage checks r is keygate's error shape with code = status and
// returns the message.
func (r *response) errMessage(t *testing.T) string {
	t.Helper()
	var b apitype.ErrorResponse
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code != r.status || b.Error.Message == "" {
		t.Fatalf("body %q (status %d) is not keygate's error shape", r.body, r.status)
	}
	return b.Error.Message
}

// keyInfo is GET /api/v1/key for key.
func (e *env) keyInfo(key string) apitype.CurrentKey {
	e.t.Helper()
	r := e.get("/api/v1/key", key)
	if r.status != 200 {
		e.t.Fatalf("GET /api/v1/key = %d %s", r.status, r.body)
	}
	var v apitype.CurrentKeyResponse
	if err := json.Unmarshal(r.body, &v); err != nil {
		e.t.Fatal(err)
	}
	return v.Data
}

// spent is the key's total usage in micro-dollars.
func (e *env) spent(key string) keygate.Micros {
	return keygate.Micros(math.Round(e.keyInfo(key).Usage * 1e6))
}

// generation is GET /api/v1/generation?id= for key.
func (e *env) generation(key, id string) (*apitype.Generation, *response) {
	e.t.Helper()
	r := e.get("/api/v1/generation?id="+id, key)
	if r.status != 200 {
		return nil, r
	}
	var v apitype.GenerationResponse
	if err := json.Unmarshal(r.body, &v); err != nil {
		e.t.Fatal(err)
	}
	return &v.Data, r
}

// chat is a chat request body for model; extra alternates names and values.
func chat(model string, stream bool, extra ...any) map[string]any {
	m := map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "Say hello"}}}
	if stream {
		m["stream"] = true
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// sseData returns the data payloads of a canonical event stream, failing
// on any other framing.
func sseData(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		if strings.HasPrefix(ev, ":") {
			continue
		}
		d, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(d, "\n") || strings.Contains(d, "\r") {
			t.Fatalf("event %q is not canonical (stream %q)", ev, body)
		}
		out = append(out, d)
	}
	return out
}

func keygateParams(userID string) keygate.NewKeyParams {
	return keygate.NewKeyParams{UserID: userID, Name: "k"}
}
