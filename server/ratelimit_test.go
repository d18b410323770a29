package server_test

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/server"
)

// reserve restarts e's HTTP server with cfg, on the same service, store,
// clock and log buffer.
func (e *env) reserve(cfg server.Config) {
	e.t.Helper()
	e.srv.Close()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://keygate.test"
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = httptest.NewServer(server.New(e.svc, cfg, log))
	e.t.Cleanup(e.srv.Close)
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRateLimit: with --rate-limit 1 each client IP may send a burst of 10
// requests to each limited API endpoint and of 5 to the sign-in form; the
// next answers 429 with the JSON error shape (a page for the form) and
// Retry-After, and never reaches the handler; the bucket refills with the
// clock (a token a second, one in ten seconds for sign-ins); unlimited
// endpoints are untouched.
func TestRateLimit(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		ctype  string
		auth   bool
		burst  int
		refill time.Duration // how long one token takes to come back
	}{
		{"exchange", "POST", "/api/v1/auth/keys", `{"code":"nope"}`, "application/json", false, 10, time.Second},
		{"code", "POST", "/api/v1/auth/keys/code", `{"callback_url":"http://localhost:3000/cb"}`, "application/json", true, 10, time.Second},
		{"login-form", "POST", "/login", "email=alice%40example.com&password=wrong", "application/x-www-form-urlencoded", false, 5, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.reserve(server.Config{RateLimit: 1})
			send := func() *response {
				h := []string{"Content-Type", tt.ctype}
				if tt.auth {
					h = append(h, "Authorization", "Bearer "+e.userKey)
				}
				return e.do(tt.method, tt.path, tt.body, h...)
			}
			codesBefore := e.codesCreated()
			for i := range tt.burst {
				if r := send(); r.status == http.StatusTooManyRequests {
					t.Fatalf("request %d of the burst: 429", i+1)
				}
			}
			r := send()
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("request %d: status %d, want 429; body %s", tt.burst+1, r.status, r.body)
			}
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Fatalf("Retry-After = %q, want whole seconds >= 1", r.header.Get("Retry-After"))
			}
			if strings.HasPrefix(tt.path, "/api/") {
				if msg := r.errMessage(t); !strings.Contains(msg, "Too many requests") {
					t.Errorf("message %q", msg)
				}
			} else if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(r.body), "Too many requests") {
				t.Errorf("login 429: Content-Type %q body %.200s, want an HTML page saying so", ct, r.body)
			}
			if tt.name == "code" && e.codesCreated() != codesBefore+tt.burst {
				t.Errorf("codes created = %d, want %d: a limited request reached the handler", e.codesCreated(), codesBefore+tt.burst)
			}
			// Unlimited endpoints still answer.
			if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+e.userKey); r.status != 200 {
				t.Errorf("GET /api/v1/key while limited: %d", r.status)
			}
			e.clock.Advance(tt.refill)
			if r := send(); r.status == http.StatusTooManyRequests {
				t.Errorf("after %v: still 429", tt.refill)
			}
			if r := send(); r.status != http.StatusTooManyRequests {
				t.Errorf("second request after %v: %d, want 429 (one token refilled)", tt.refill, r.status)
			}
		})
	}
}

// TestRateLimitOff: --rate-limit 0 never answers 429.
func TestRateLimitOff(t *testing.T) {
	e := newEnv(t)
	e.reserve(server.Config{RateLimit: 0})
	for i := range 50 {
		if r := e.exchange(map[string]any{"code": "nope"}); r.status != http.StatusForbidden {
			t.Fatalf("request %d: %d, want 403", i, r.status)
		}
	}
}

// TestRateLimitClientIP: X-Forwarded-For is believed only from a trusted
// proxy. From an untrusted peer, spoofed addresses share the peer's
// bucket; behind a trusted proxy each forwarded client has its own.
func TestRateLimitClientIP(t *testing.T) {
	exchangeFrom := func(e *env, xff string) int {
		return e.do("POST", "/api/v1/auth/keys", `{"code":"nope"}`, "Content-Type", "application/json", "X-Forwarded-For", xff).status
	}
	t.Run("untrusted-peer", func(t *testing.T) {
		e := newEnv(t)
		e.reserve(server.Config{RateLimit: 1})
		limited := 0
		for i := range 11 {
			if exchangeFrom(e, "198.51.100."+strconv.Itoa(i+1)) == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited != 1 {
			t.Fatalf("%d of 11 spoofed requests limited, want 1: X-Forwarded-For from an untrusted peer was believed", limited)
		}
	})
	t.Run("trusted-proxy", func(t *testing.T) {
		e := newEnv(t)
		e.reserve(server.Config{RateLimit: 1, TrustedProxies: []*net.IPNet{mustCIDR(t, "127.0.0.0/8")}})
		for i := range 30 {
			if s := exchangeFrom(e, "198.51.100."+strconv.Itoa(i+1)); s == http.StatusTooManyRequests {
				t.Fatalf("client %d behind the trusted proxy: 429", i+1)
			}
		}
		for range 10 {
			exchangeFrom(e, "203.0.113.7")
		}
		if s := exchangeFrom(e, "203.0.113.7"); s != http.StatusTooManyRequests {
			t.Fatalf("11th request of one forwarded client: %d, want 429", s)
		}
		// The client is the last hop the proxy did not add: a client
		// cannot escape its bucket by prepending addresses of its own.
		if s := exchangeFrom(e, "192.0.2.1, 203.0.113.7"); s != http.StatusTooManyRequests {
			t.Fatalf("prepended X-Forwarded-For hop: %d, want 429", s)
		}
	})
}

// TestRateLimitLoginWithFormToken: a genuine sign-in form, with its
// cookie and form token, is limited like any other attempt, so a password
// cannot be guessed faster than the limit.
func TestRateLimitLoginWithFormToken(t *testing.T) {
	e := newEnv(t)
	e.reserve(server.Config{RateLimit: 0.5}) // sign-ins: burst 5
	page := e.browse("GET", "/login", nil, nil)
	c := page.cookie("keygate_login")
	if c == nil {
		t.Fatalf("GET /login set no login cookie")
	}
	token := c.Value
	statuses := make([]int, 0, 6)
	for range 6 {
		r := e.browse("POST", "/login", url.Values{"email": {"alice@example.com"}, "password": {"guess"}, "form_token": {token}}, []string{"keygate_login=" + token})
		statuses = append(statuses, r.status)
	}
	for i, s := range statuses[:5] {
		if s != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401 (wrong password); all %v", i+1, s, statuses)
		}
	}
	if statuses[5] != http.StatusTooManyRequests {
		t.Fatalf("6th attempt: %d, want 429; all %v", statuses[5], statuses)
	}
}
