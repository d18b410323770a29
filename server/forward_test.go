package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/metrics"
	"github.com/keygate/keygate/server"
)

// countingStore counts the reads that a verify could make: keys and usage
// counters.
type countingStore struct {
	keygate.Store
	keyReads, usageReads atomic.Int64
}

func (s *countingStore) Key(ctx context.Context, hash string) (*keygate.APIKey, error) {
	s.keyReads.Add(1)
	return s.Store.Key(ctx, hash)
}

func (s *countingStore) UsageCounters(ctx context.Context, hash string, want []keygate.UsageCounter) ([]keygate.UsageCounter, error) {
	s.usageReads.Add(1)
	return s.Store.UsageCounters(ctx, hash, want)
}

// fwd is a keygate server on a real store with metrics, the gateway's
// pricing of a models file, a user with a key, a management key and a
// service token.
type fwd struct {
	t       *testing.T
	srv     *httptest.Server
	svc     *keygate.Service
	store   *countingStore
	logs    *lockedBuffer // the server's log, at debug level
	user    *keygate.User
	userKey string
	mgmtKey string
	token   string
}

// fwdModels prices t/priced at 0.50 USD per million prompt tokens and 1.50
// per million completion tokens.
const fwdModels = `upstreams:
  up: {base_url: "http://127.0.0.1:9/v1"}
models:
  - {name: t/priced, upstream: up, pricing: {prompt: 0.50, completion: 1.50}}
`

func newFwd(t *testing.T) *fwd {
	t.Helper()
	return newFwdModels(t, fwdModels)
}

// newFwdModels is newFwd with the gateway serving the models file models.
func newFwdModels(t *testing.T, models string) *fwd {
	t.Helper()
	ctx := context.Background()
	store := &countingStore{Store: openTestStore(t)}
	m := metrics.New(prometheus.NewRegistry())
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := keygate.NewService(store, keygate.DefaultConfig(), keygate.WithLogger(log), keygate.WithObserver(m), keygate.WithPasswordHasher(testHasher))
	m.KeyCacheSize(svc.KeyCacheLen)
	gc, err := gateway.ParseConfig([]byte(models), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(svc, gc, gateway.Options{Logger: log, Metrics: m})
	h := server.New(svc, server.Config{PublicURL: "http://keygate.test", Gateway: gw.Handlers(), Price: gw.Price, Metrics: m, ServeMetrics: true}, log)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &fwd{t: t, srv: srv, svc: svc, store: store, logs: logs}
	if f.user, err = svc.CreateUser(ctx, "alice@example.com", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	f.userKey = f.newKey(nil)
	if f.mgmtKey, _, err = svc.CreateKey(ctx, keygate.NewKeyParams{UserID: f.user.ID, Name: "mgmt", IsManagement: true}); err != nil {
		t.Fatal(err)
	}
	if f.token, _, err = svc.CreateServiceToken(ctx, "edge proxy"); err != nil {
		t.Fatal(err)
	}
	return f
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newKey creates a key of the user with a limit in USD (nil: none).
func (f *fwd) newKey(limitUSD *float64) string {
	f.t.Helper()
	k, _, err := f.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: f.user.ID, Name: "k", LimitUSD: limitUSD})
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

// do sends a request to the server; headers alternate names and values.
func (f *fwd) do(method, path, body string, headers ...string) *response {
	f.t.Helper()
	return doURL(f.t, method, f.srv.URL+path, body, headers...)
}

// doURL sends a request; headers alternate names and values.
func doURL(t *testing.T, method, url, body string, headers ...string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
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

// usage returns the key's usage in micro-dollars, read from the store.
func (f *fwd) usage(key string) keygate.Micros {
	f.t.Helper()
	k, err := f.store.Key(context.Background(), keygate.HashSecret(key))
	if err != nil {
		f.t.Fatal(err)
	}
	f.svc.InvalidateUsage(k.Hash)
	info, err := f.svc.KeyInfo(context.Background(), k)
	if err != nil {
		f.t.Fatal(err)
	}
	return info.Usage.Total
}

// report posts a usage batch with the service token.
func (f *fwd) report(events ...map[string]any) *response {
	f.t.Helper()
	b, _ := json.Marshal(map[string]any{"events": events})
	return f.do("POST", "/api/v1/usage", string(b), "Authorization", "Bearer "+f.token)
}

// usageResult decodes a 200 answer of POST /api/v1/usage, failing on any
// other shape.
func usageResult(t *testing.T, r *response) (accepted, duplicates int, rejected map[string]string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("POST /api/v1/usage = %d %s", r.status, r.body)
	}
	var b struct {
		Data *struct {
			Accepted   *int `json:"accepted"`
			Duplicates *int `json:"duplicates"`
			Rejected   []struct {
				ID    string `json:"id"`
				Error string `json:"error"`
			} `json:"rejected"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Data == nil || b.Data.Accepted == nil || b.Data.Duplicates == nil || b.Data.Rejected == nil {
		t.Fatalf("body %s is not {\"data\":{\"accepted\",\"duplicates\",\"rejected\":[]}}", r.body)
	}
	rejected = map[string]string{}
	for _, e := range b.Data.Rejected {
		rejected[e.ID] = e.Error
	}
	return *b.Data.Accepted, *b.Data.Duplicates, rejected
}

func ptr[T any](v T) *T { return &v }

// TestVerify: every method and path a proxy uses gets one answer per key,
// whatever forwarded headers the client adds; refusals carry the JSON
// error body and the status and message in headers.
func TestVerify(t *testing.T) {
	f := newFwd(t)
	ctx := context.Background()
	limited := f.newKey(ptr(4.0))
	spent := f.newKey(ptr(0.000100))
	disabled := f.newKey(nil)
	if _, err := f.svc.UpdateKey(ctx, f.user.ID, keygate.HashSecret(disabled), keygate.KeyUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if r := f.report(map[string]any{"id": "spend-1", "key": spent, "model": "m", "cost": 0.0001}); r.status != 200 {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	management, _, err := f.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: f.user.ID, Name: "m", IsManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	forged := []string{
		"X-Forwarded-Uri", "/api/v1/keys", "X-Original-URI", "/admin", "Forwarded", "for=1.2.3.4;host=evil",
		"X-Forwarded-Method", "DELETE", "X-Keygate-User-Id", "victim", "X-Keygate-Limit-Remaining", "1000000",
	}
	tests := []struct {
		name      string
		auth      string
		status    int
		message   string
		remaining string
	}{
		{"no-limit", "Bearer " + f.userKey, 200, "", "unlimited"},
		{"limited", "Bearer " + limited, 200, "", "4.000000"},
		{"at-its-limit", "Bearer " + spent, 403, "Key limit exceeded (total limit)", ""},
		{"missing", "", 401, "Missing Authentication header", ""},
		{"unknown", "Bearer sk-or-v1-" + strings.Repeat("0", 64), 401, "Invalid API key", ""},
		{"disabled", "Bearer " + disabled, 401, "API key is disabled", ""},
		{"management", "Bearer " + management, 403, keygate.MsgManagementSpend, ""},
		{"service-token", "Bearer " + f.token, 401, "Invalid API key", ""},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT"} {
			for _, path := range []string{"/api/v1/auth/verify", "/api/v1/auth/verify/v1/chat/completions"} {
				for _, extra := range [][]string{nil, forged} {
					t.Run(fmt.Sprintf("%s/%s%s/forged=%v", tt.name, method, path, extra != nil), func(t *testing.T) {
						h := append([]string{"Authorization", tt.auth}, extra...)
						r := f.do(method, path, "", h...)
						if r.status != tt.status {
							t.Fatalf("status %d, want %d (%s)", r.status, tt.status, r.body)
						}
						if cc := r.header.Get("Cache-Control"); cc != "no-store" {
							t.Errorf("Cache-Control %q, want no-store", cc)
						}
						if tt.status != 200 {
							if s, e := r.header.Get("X-Keygate-Status"), r.header.Get("X-Keygate-Error"); s != fmt.Sprint(tt.status) || e != tt.message {
								t.Errorf("X-Keygate-Status %q, X-Keygate-Error %q; want %d, %q", s, e, tt.status, tt.message)
							}
							if method != "HEAD" {
								if m := r.errMessage(t); m != tt.message {
									t.Errorf("message %q, want %q", m, tt.message)
								}
							}
							return
						}
						k, _ := f.store.Key(ctx, keygate.HashSecret(strings.TrimPrefix(tt.auth, "Bearer ")))
						want := map[string]string{
							"X-Keygate-User-Id": f.user.ID, "X-Keygate-Key-Hash": k.Hash, "X-Keygate-Workspace-Id": k.WorkspaceID,
							"X-Keygate-App-Id": "none", "X-Keygate-Limit-Remaining": tt.remaining,
						}
						for name, v := range want {
							if got := r.header.Values(name); len(got) != 1 || got[0] != v {
								t.Errorf("%s = %q, want [%q]", name, got, v)
							}
						}
					})
				}
			}
		}
	}
}

// TestVerifyFromCache: a verify of a cached key reads nothing from the
// store, and a key disabled through the API is refused at once.
func TestVerifyFromCache(t *testing.T) {
	f := newFwd(t)
	key := f.newKey(ptr(1.0))
	auth := []string{"Authorization", "Bearer " + key}
	if r := f.do("GET", "/api/v1/auth/verify", "", auth...); r.status != 200 {
		t.Fatalf("first verify: %d %s", r.status, r.body)
	}
	keys, usage := f.store.keyReads.Load(), f.store.usageReads.Load()
	for range 50 {
		if r := f.do("GET", "/api/v1/auth/verify", "", auth...); r.status != 200 {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
	}
	if k, u := f.store.keyReads.Load()-keys, f.store.usageReads.Load()-usage; k != 0 || u != 0 {
		t.Errorf("50 verifies of a cached key read %d keys and %d usage rows from the store, want 0", k, u)
	}
	hash := keygate.HashSecret(key)
	if r := f.do("PATCH", "/api/v1/keys/"+hash, `{"disabled":true}`, "Authorization", "Bearer "+f.mgmtKey, "Content-Type", "application/json"); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := f.do("GET", "/api/v1/auth/verify", "", auth...); r.status != 401 {
		t.Errorf("verify after disable: %d, want 401", r.status)
	}
}

// TestUsageRetriedConcurrently: one 50-event batch sent 8 times at once
// is charged once: each id accepted once overall, usage grows by the sum of
// the costs, to the micro-dollar.
func TestUsageRetriedConcurrently(t *testing.T) {
	f := newFwd(t)
	key := f.newKey(nil)
	var events []map[string]any
	var want keygate.Micros
	for i := range 50 {
		// Half with a cost in USD, half priced from the models file:
		// 100+i prompt tokens at 0.50 and 20 completion tokens at 1.50
		// per million is (100+i)*0.5 + 30 µ$, rounded up.
		e := map[string]any{"id": fmt.Sprintf("req-%02d", i), "key_hash": keygate.HashSecret(key), "model": "t/priced", "prompt_tokens": 100 + i, "completion_tokens": 20}
		if i%2 == 0 {
			e["cost"] = float64(i+1) / 1e6
			want += keygate.Micros(i + 1)
		} else {
			want += keygate.Micros((100+i+1)/2 + 30)
		}
		events = append(events, e)
	}
	var accepted, duplicates atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			a, d, rej := usageResult(t, f.report(events...))
			if len(rej) != 0 || a+d != 50 {
				t.Errorf("batch: accepted %d + duplicates %d, rejected %v; want 50 in all, none rejected", a, d, rej)
			}
			accepted.Add(int64(a))
			duplicates.Add(int64(d))
		})
	}
	wg.Wait()
	if a, d := accepted.Load(), duplicates.Load(); a != 50 || d != 350 {
		t.Errorf("over 8 batches: accepted %d, duplicates %d; want 50, 350", a, d)
	}
	if got := f.usage(key); got != want {
		t.Errorf("usage %d µ$, want %d", got, want)
	}
	// An id sent again with another payload is a duplicate, charged nothing.
	a, d, _ := usageResult(t, f.report(map[string]any{"id": "req-00", "key_hash": keygate.HashSecret(key), "model": "t/priced", "cost": 5}))
	if a != 0 || d != 1 || f.usage(key) != want {
		t.Errorf("changed payload: accepted %d, duplicates %d, usage %d; want 0, 1, %d", a, d, f.usage(key), want)
	}
}

// TestUsageBadEvents: a bad event is rejected with its reason, naming the
// field, and the good ones of its batch are charged.
func TestUsageBadEvents(t *testing.T) {
	f := newFwd(t)
	key := f.newKey(nil)
	good := func(id string) map[string]any {
		return map[string]any{"id": id, "key": key, "model": "m", "cost": 0.000250}
	}
	tests := []struct {
		name  string
		event map[string]any
		want  string
	}{
		{"negative-tokens", map[string]any{"id": "b1", "key": key, "model": "m", "cost": 0, "prompt_tokens": -1}, "prompt_tokens must be >= 0"},
		{"tokens-not-a-number", map[string]any{"id": "b2", "key": key, "model": "m", "prompt_tokens": "many"}, "prompt_tokens has the wrong type or value"},
		{"negative-cost", map[string]any{"id": "b3", "key": key, "model": "m", "cost": -0.5}, "cost must be a number of USD >= 0"},
		{"cost-as-text", map[string]any{"id": "b4", "key": key, "model": "m", "cost": "0.1"}, "cost must be a number of USD >= 0"},
		{"no-key", map[string]any{"id": "b5", "model": "m", "cost": 0.1}, "key_hash or key is required"},
		{"unknown-key", map[string]any{"id": "b6", "key_hash": strings.Repeat("ab", 32), "model": "m", "cost": 0.1}, "no such key"},
		{"no-model", map[string]any{"id": "b7", "key": key, "cost": 0.1}, "model is required"},
		{"unpriced-model", map[string]any{"id": "b8", "key": key, "model": "t/unknown", "prompt_tokens": 5}, `cost is required: the models file has no price for "t/unknown"`},
		{"no-id", map[string]any{"key": key, "model": "m", "cost": 0.1}, "id must be 1 to 200 visible ASCII characters"},
		{"future", map[string]any{"id": "b9", "key": key, "model": "m", "cost": 0.1, "created_at": "2999-01-01T00:00:00Z"}, "created_at must be at most 5m0s in the future"},
		{"bad-time", map[string]any{"id": "b10", "key": key, "model": "m", "cost": 0.1, "created_at": "yesterday"}, "created_at must be an RFC 3339 time"},
		{"unknown-app", map[string]any{"id": "b11", "key": key, "model": "m", "cost": 0.1, "app_id": 999999}, "app_id names no app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.usage(key)
			id := tt.name
			a, d, rej := usageResult(t, f.report(good(id+"-a"), tt.event, good(id+"-b")))
			evID, _ := tt.event["id"].(string)
			if a != 2 || d != 0 || len(rej) != 1 || rej[evID] != tt.want {
				t.Errorf("accepted %d, duplicates %d, rejected %v; want 2, 0, {%q: %q}", a, d, rej, evID, tt.want)
			}
			if got := f.usage(key) - before; got != 500 {
				t.Errorf("usage grew %d µ$, want 500 (the two good events)", got)
			}
		})
	}
}

// TestUsageCredentials: the usage API takes only a service token, and a
// service token opens nothing else.
func TestUsageCredentials(t *testing.T) {
	f := newFwd(t)
	batch := `{"events":[{"id":"x","key":"` + f.userKey + `","model":"m","cost":0.1}]}`
	revoked, st, err := f.svc.CreateServiceToken(context.Background(), "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeServiceToken(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body, auth string
		status                         int
	}{
		{"user-key-on-usage", "POST", "/api/v1/usage", batch, f.userKey, 401},
		{"management-key-on-usage", "POST", "/api/v1/usage", batch, f.mgmtKey, 401},
		{"no-credential-on-usage", "POST", "/api/v1/usage", batch, "", 401},
		{"revoked-token-on-usage", "POST", "/api/v1/usage", batch, revoked, 401},
		{"token-as-key-key", "GET", "/api/v1/key", "", f.token, 401},
		{"token-as-key-keys", "GET", "/api/v1/keys", "", f.token, 401},
		{"token-as-key-verify", "GET", "/api/v1/auth/verify", "", f.token, 401},
		{"token-as-key-chat", "POST", "/api/v1/chat/completions", `{"model":"t/priced","messages":[]}`, f.token, 401},
		{"token-on-usage", "POST", "/api/v1/usage", batch, f.token, 200},
		{"empty-batch", "POST", "/api/v1/usage", `{"events":[]}`, f.token, 400},
		{"not-a-batch", "POST", "/api/v1/usage", `[1,2]`, f.token, 400},
		{"usage by GET", "GET", "/api/v1/usage", "", f.token, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.auth != "" {
				h = []string{"Authorization", "Bearer " + tt.auth}
			}
			r := f.do(tt.method, tt.path, tt.body, h...)
			if r.status != tt.status {
				t.Fatalf("%s %s = %d, want %d (%s)", tt.method, tt.path, r.status, tt.status, r.body)
			}
			if r.status != 200 {
				r.errMessage(t)
				for _, secret := range []string{f.token, f.userKey, f.mgmtKey, revoked} {
					if strings.Contains(string(r.body), secret) {
						t.Errorf("body %s echoes a credential", r.body)
					}
				}
			}
		})
	}
}

// TestUsageReachesLimit: usage reported for a key brings it to its limit,
// and verify refuses it from then on.
func TestUsageReachesLimit(t *testing.T) {
	f := newFwd(t)
	key := f.newKey(ptr(0.001))
	auth := []string{"Authorization", "Bearer " + key}
	if r := f.do("GET", "/api/v1/auth/verify", "", auth...); r.status != 200 || r.header.Get("X-Keygate-Limit-Remaining") != "0.001000" {
		t.Fatalf("verify before: %d, remaining %q", r.status, r.header.Get("X-Keygate-Limit-Remaining"))
	}
	usageResult(t, f.report(map[string]any{"id": "a", "key": key, "model": "m", "cost": 0.000999}))
	if r := f.do("GET", "/api/v1/auth/verify", "", auth...); r.status != 200 || r.header.Get("X-Keygate-Limit-Remaining") != "0.000001" {
		t.Fatalf("verify with 1 µ$ left: %d, remaining %q", r.status, r.header.Get("X-Keygate-Limit-Remaining"))
	}
	usageResult(t, f.report(map[string]any{"id": "b", "key": key, "model": "m", "cost": 0.000001}))
	r := f.do("GET", "/api/v1/auth/verify", "", auth...)
	if r.status != 403 || r.errMessage(t) != "Key limit exceeded (total limit)" {
		t.Errorf("verify at the limit: %d %s, want 403 Key limit exceeded (total limit)", r.status, r.body)
	}
}

// TestForwardSecretsStayOut: through verify (pass, 401, 403, a key in the
// query string) and usage reports (with a key in the body, a bad event, a
// key as service token), no key or service token appears in the debug log
// or in an answer.
func TestForwardSecretsStayOut(t *testing.T) {
	f := newFwd(t)
	limited := f.newKey(ptr(0.000001))
	usageResult(t, f.report(map[string]any{"id": "s1", "key": limited, "model": "m", "cost": 0.000001}))
	var answers []*response
	keep := func(r *response) { answers = append(answers, r) }
	keep(f.do("GET", "/api/v1/auth/verify", "", "Authorization", "Bearer "+f.userKey))
	keep(f.do("GET", "/api/v1/auth/verify", "", "Authorization", "Bearer "+limited))
	keep(f.do("GET", "/api/v1/auth/verify?key="+f.userKey, ""))
	keep(f.do("GET", "/api/v1/auth/verify/"+f.userKey, "", "Authorization", "Bearer "+f.userKey[:20]))
	keep(f.do("GET", "/api/v1/auth/verify", "", "Authorization", "Bearer "+f.token))
	keep(f.do("POST", "/api/v1/usage", `{"events":[{"id":"s2","key":"`+f.userKey+`","model":"m","cost":0.1}]}`, "Authorization", "Bearer "+f.userKey))
	keep(f.report(map[string]any{"id": "s3", "key": f.userKey, "model": "m", "cost": -1}, map[string]any{"id": "s4", "key": f.mgmtKey + "x", "model": "m", "cost": 1}))
	logs := f.logs.String()
	if !strings.Contains(logs, "request rejected") {
		t.Fatalf("the debug log recorded no rejection; is it captured?\n%s", logs)
	}
	for what, secret := range map[string]string{"user key": f.userKey, "limited key": limited, "management key": f.mgmtKey, "service token": f.token} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", what)
		}
		for _, r := range answers {
			if strings.Contains(string(r.body), secret) || strings.Contains(fmt.Sprint(r.header), secret) {
				t.Errorf("an answer (%d %s) holds the %s", r.status, r.body, what)
			}
		}
	}
}
