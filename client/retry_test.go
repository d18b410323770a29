package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/client"
)

// flaky is a small real HTTP server that gives the scripted answers in
// order, then 200 with a key body, and records when each request came.
type flaky struct {
	mu      sync.Mutex
	answers []answer
	times   []time.Time
	methods []string
	headers []http.Header
	paths   []string
	srv     *httptest.Server
}

type answer struct {
	status     int
	retryAfter string
}

func newFlaky(t *testing.T, answers ...answer) *flaky {
	f := &flaky{answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.times = append(f.times, time.Now())
		f.methods = append(f.methods, r.Method)
		f.headers = append(f.headers, r.Header.Clone())
		f.paths = append(f.paths, r.URL.EscapedPath())
		var a answer
		if len(f.answers) > 0 {
			a, f.answers = f.answers[0], f.answers[1:]
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if a.status == 0 {
			w.Write([]byte(`{"data":{"label":"sk-kg-v1-abc...def","limit":null}}`))
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		w.Write([]byte(`{"error":{"code":` + strconv.Itoa(a.status) + `,"message":"try later"}}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flaky) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.times)
}

// gap is the time between request i-1 and request i.
func (f *flaky) gap(i int) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.times[i].Sub(f.times[i-1])
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name     string
		answers  []answer
		opts     []client.Option
		wantErr  error // nil for success
		requests int
		minGap   time.Duration // least wait before the last request
	}{
		{"503-then-200", []answer{{503, ""}}, nil, nil, 2, 0},
		{"502-504-then-200", []answer{{502, ""}, {504, ""}}, nil, nil, 3, 0},
		{"429-retry-after-seconds", []answer{{429, "1"}}, nil, nil, 2, 900 * time.Millisecond},
		{"503-retry-after-zero", []answer{{503, "0"}}, nil, nil, 2, 0},
		{"503-retry-after-garbage-backs-off", []answer{{503, "soon"}}, nil, nil, 2, 0},
		{"gives-up-after-retries", []answer{{503, "0"}, {503, "0"}, {503, "0"}, {503, "0"}}, nil, client.ErrServer, 3, 0},
		{"with-retries-5", []answer{{503, "0"}, {503, "0"}, {503, "0"}, {503, "0"}}, []client.Option{client.WithRetries(5)}, nil, 5, 0},
		{"retries-off", []answer{{503, "0"}}, []client.Option{client.WithRetries(0)}, client.ErrServer, 1, 0},
		{"500-not-retried", []answer{{500, "0"}}, nil, client.ErrServer, 1, 0},
		{"400-not-retried", []answer{{400, "0"}}, nil, client.ErrBadRequest, 1, 0},
		{"retry-after-too-long", []answer{{429, "3600"}}, nil, client.ErrRateLimited, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, tt.answers...)
			got, err := client.New(f.srv.URL+"/api/v1", tt.opts...).GetCurrentKey(context.Background())
			if tt.wantErr == nil && (err != nil || got.Label != "sk-kg-v1-abc...def") {
				t.Fatalf("GetCurrentKey = %+v, %v; want the key", got, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("GetCurrentKey: err = %v, want %v", err, tt.wantErr)
			}
			if n := f.requests(); n != tt.requests {
				t.Fatalf("%d requests, want %d", n, tt.requests)
			}
			if tt.minGap > 0 {
				if g := f.gap(tt.requests - 1); g < tt.minGap {
					t.Errorf("retried after %s, want at least %s (Retry-After)", g, tt.minGap)
				}
			}
		})
	}
}

// TestRetryAfterDate: Retry-After may be an HTTP-date (RFC 9110 §10.2.3).
func TestRetryAfterDate(t *testing.T) {
	f := newFlaky(t, answer{503, time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)})
	if _, err := client.New(f.srv.URL + "/api/v1").GetCurrentKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.requests(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	// The date has whole seconds, so the wait is between one and two.
	if g := f.gap(1); g < 500*time.Millisecond {
		t.Errorf("retried after %s, want to wait for the date", g)
	}
}

// TestNoRetryForPOST: creating and exchanging a code are not idempotent; a
// retry could mint a second code or replay one.
func TestNoRetryForPOST(t *testing.T) {
	calls := []struct {
		name string
		call func(c *client.Client) error
	}{
		{"create-auth-code", func(c *client.Client) error {
			_, err := c.CreateAuthCode(context.Background(), &apitype.CreateAuthKeysCodeRequest{CallbackURL: "http://localhost:3000/cb"})
			return err
		}},
		{"exchange", func(c *client.Client) error {
			_, err := c.ExchangeAuthCodeForAPIKey(context.Background(), &apitype.ExchangeAuthCodeRequest{Code: "c"})
			return err
		}},
		{"keys-create", func(c *client.Client) error {
			_, err := c.Keys.Create(context.Background(), &apitype.CreateKeyRequest{Name: "n"})
			return err
		}},
		{"keys-update", func(c *client.Client) error {
			_, err := c.Keys.Update(context.Background(), "h", &apitype.UpdateKeyRequest{Name: apitype.Some("n")})
			return err
		}},
		{"keys-delete", func(c *client.Client) error { return c.Keys.Delete(context.Background(), "h") }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, answer{503, "0"}, answer{503, "0"})
			err := tt.call(client.New(f.srv.URL + "/api/v1"))
			if !errors.Is(err, client.ErrServer) {
				t.Errorf("err = %v, want ErrServer", err)
			}
			if n := f.requests(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestRetryBoundedByContext: a wait that would outlive the context is not
// started; the server's answer is returned at once.
func TestRetryBoundedByContext(t *testing.T) {
	f := newFlaky(t, answer{429, "20"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.New(f.srv.URL + "/api/v1").GetCurrentKey(ctx)
	if !errors.Is(err, client.ErrRateLimited) || ctx.Err() != nil {
		t.Errorf("err = %v (ctx %v), want ErrRateLimited before the deadline", err, ctx.Err())
	}
	if n := f.requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRetryCancelled(t *testing.T) {
	f := newFlaky(t, answer{503, "5"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := client.New(f.srv.URL + "/api/v1").GetCurrentKey(ctx)
	if !errors.Is(err, client.ErrServer) {
		t.Errorf("err = %v, want the 503 that was being retried", err)
	}
	if n := f.requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestResponseCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"data":{"label":"` + strings.Repeat("x", 1<<20) + `"}}`))
	}))
	defer srv.Close()
	_, err := client.New(srv.URL + "/api/v1").GetCurrentKey(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want the response refused as too large", err)
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body>upstream down</body></html>"))
	}))
	defer srv.Close()
	_, err := client.New(srv.URL+"/api/v1", client.WithRetries(0)).GetCurrentKey(context.Background())
	e, ok := errors.AsType[*client.Error](err)
	if !ok || e.StatusCode != 502 || e.Code != 502 || e.Message != "Bad Gateway" || !errors.Is(err, client.ErrServer) {
		t.Errorf("err = %#v, want *Error 502 Bad Gateway", err)
	}
}

// TestRequestHeaders: what every request says about its sender.
func TestRequestHeaders(t *testing.T) {
	f := newFlaky(t)
	c := client.New(f.srv.URL+"/api/v1/", client.WithAPIKey("sk-kg-v1-test"), client.WithUserAgent("mycli/1.2"),
		client.WithAttribution("https://myapp.example", "My App", "cli-agent", "programming-app"))
	if _, err := c.GetCurrentKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(f.srv.URL+"/api/v1").CreateAuthCode(context.Background(), &apitype.CreateAuthKeysCodeRequest{CallbackURL: "http://localhost:3000/cb"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paths[0] != "/api/v1/key" || f.paths[1] != "/api/v1/auth/keys/code" {
		t.Errorf("paths = %q, want /api/v1/key and /api/v1/auth/keys/code", f.paths)
	}
	want := map[string]string{
		"Authorization":           "Bearer sk-kg-v1-test",
		"User-Agent":              "mycli/1.2",
		"Http-Referer":            "https://myapp.example",
		"X-Openrouter-Title":      "My App",
		"X-Openrouter-Categories": "cli-agent,programming-app",
		"Accept":                  "application/json",
		"Content-Type":            "",
	}
	for k, v := range want {
		if got := f.headers[0].Get(k); got != v {
			t.Errorf("GET %s = %q, want %q", k, got, v)
		}
	}
	// Without options: no credential, no attribution, a JSON body.
	want = map[string]string{"Authorization": "", "Http-Referer": "", "X-Openrouter-Title": "", "Content-Type": "application/json", "User-Agent": "keygate-go"}
	for k, v := range want {
		if got := f.headers[1].Get(k); got != v {
			t.Errorf("POST %s = %q, want %q", k, got, v)
		}
	}
}
