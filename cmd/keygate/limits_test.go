package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// The HTTP server's own limits, as `keygate serve` configures them: header
// and body read timeouts against slow clients, an idle timeout, a header
// size cap, and a graceful shutdown that drains requests in flight.

// testServeConfig is a valid ServeConfig on a free loopback port and a
// fresh SQLite file.
func testServeConfig(t *testing.T) ServeConfig {
	return ServeConfig{
		Addr:      "127.0.0.1:0",
		Database:  filepath.Join(t.TempDir(), "keygate.db"),
		KeyPrefix: keygate.DefaultKeyPrefix,
		CodeTTL:   10 * time.Minute,
		LogLevel:  "error",
	}
}

// openMain opens a Main (store, listener, configured *http.Server) on
// cfg without serving; the test changes what it needs, then calls serve.
func openMain(t *testing.T, cfg ServeConfig) *Main {
	t.Helper()
	m, err := Open(context.Background(), cfg, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func (m *Main) serve(t *testing.T) {
	t.Helper()
	go func() {
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
}

// TestServerLimitsConfigured: every limit is set, to a value in its sane
// range. WriteTimeout must be long enough for streamed responses.
func TestServerLimitsConfigured(t *testing.T) {
	m := openMain(t, testServeConfig(t))
	h := m.http
	tests := []struct {
		name        string
		got, lo, hi time.Duration
	}{
		{"ReadHeaderTimeout", h.ReadHeaderTimeout, time.Second, 30 * time.Second},
		{"ReadTimeout", h.ReadTimeout, 5 * time.Second, 2 * time.Minute},
		{"WriteTimeout", h.WriteTimeout, 5 * time.Minute, time.Hour},
		{"IdleTimeout", h.IdleTimeout, 10 * time.Second, 10 * time.Minute},
	}
	for _, tt := range tests {
		if tt.got < tt.lo || tt.got > tt.hi {
			t.Errorf("%s = %v, want between %v and %v", tt.name, tt.got, tt.lo, tt.hi)
		}
	}
	if h.MaxHeaderBytes < 8<<10 || h.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want between 8 KiB and 1 MiB", h.MaxHeaderBytes)
	}
	if h.ErrorLog == nil {
		t.Errorf("ErrorLog is nil: the standard library's own errors would bypass the structured log")
	}
}

// readUntilClosed reads conn until the server closes it or until limit,
// and returns what was read and whether the server closed it.
func readUntilClosed(conn net.Conn, limit time.Duration) (string, bool) {
	conn.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), false
	}
	return string(b), true
}

// TestSlowHeaderCut: a client that sends its header a byte at a time
// (slowloris) is cut off at ReadHeaderTimeout, without a request ever
// reaching a handler.
func TestSlowHeaderCut(t *testing.T) {
	m := openMain(t, testServeConfig(t))
	m.http.ReadHeaderTimeout = 500 * time.Millisecond
	m.serve(t)
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: keygate.test\r\nX-Slow: ")
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := io.WriteString(conn, "a"); err != nil {
					return
				}
			}
		}
	}()
	got, closed := readUntilClosed(conn, 10*time.Second)
	if !closed {
		t.Fatalf("connection still open 10s after a header that never ends (ReadHeaderTimeout %v)", m.http.ReadHeaderTimeout)
	}
	if strings.Contains(got, "200 OK") {
		t.Fatalf("the unfinished request was served: %q", got)
	}
}

// TestSlowBodyCut: a client that sends its body slower than ReadTimeout
// allows gets a 4xx (the body could not be read), never a 5xx, and the
// connection ends.
func TestSlowBodyCut(t *testing.T) {
	m := openMain(t, testServeConfig(t))
	m.http.ReadTimeout = time.Second
	m.serve(t)
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /api/v1/auth/keys HTTP/1.1\r\nHost: keygate.test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"code\":\"")
	got, closed := readUntilClosed(conn, 10*time.Second)
	if !closed {
		t.Fatalf("connection still open 10s after a body that never ends (ReadTimeout %v)", m.http.ReadTimeout)
	}
	t.Logf("answer to the slow body: %q", got)
	if got != "" {
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
		if err != nil {
			t.Fatalf("answer %q: %v", got, err)
		}
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Fatalf("slow body: status %d, want 4xx", res.StatusCode)
		}
	}
}

// TestOversizedHeader431: a header larger than MaxHeaderBytes is refused
// by the standard library with 431 before any handler runs.
func TestOversizedHeader431(t *testing.T) {
	m := openMain(t, testServeConfig(t))
	m.serve(t)
	req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/api/v1/key", nil)
	req.Header.Set("X-Big", strings.Repeat("a", m.http.MaxHeaderBytes+8<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
	// Just under the cap is served normally (401: no key).
	req.Header.Set("X-Big", strings.Repeat("a", m.http.MaxHeaderBytes-1<<10))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("header under the cap: status %d, want 401", res.StatusCode)
	}
}

// TestIdleConnectionClosed: a keep-alive connection left idle is closed
// at IdleTimeout.
func TestIdleConnectionClosed(t *testing.T) {
	m := openMain(t, testServeConfig(t))
	m.http.IdleTimeout = 500 * time.Millisecond
	m.serve(t)
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: keygate.test\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /healthz: %d", res.StatusCode)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatalf("server sent bytes on an idle connection")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("idle connection still open after 10s (IdleTimeout %v)", m.http.IdleTimeout)
	}
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestGracefulShutdownDrains: when the server is told to stop while a
// request is in flight, it stops accepting connections but finishes that
// request, and Run returns without error.
func TestGracefulShutdownDrains(t *testing.T) {
	cfg := testServeConfig(t)
	cfg.Addr = freeAddr(t)
	m := openMain(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var conn net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", cfg.Addr)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not listening after 10s: %v", err)
		}
	}
	defer conn.Close()
	body := `{"code":"not-a-code"}`
	// Half a request: the server is reading its body when it is told to stop.
	io.WriteString(conn, "POST /api/v1/auth/keys HTTP/1.1\r\nHost: keygate.test\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"+body[:5])
	time.Sleep(200 * time.Millisecond)
	cancel()
	// New connections are refused once shutdown has begun.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", cfg.Addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("still accepting connections 5s after shutdown began")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	default:
	}
	io.WriteString(conn, body[5:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("in-flight request: status %d, want 403 (unknown code)", res.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return 10s after the last request finished")
	}
}

// TestRateLimitFlag: --rate-limit defaults to 20 requests a second per
// client IP and reaches the server: with 1, the eleventh exchange in a
// burst from one address is 429 with Retry-After; with 0, none is.
func TestRateLimitFlag(t *testing.T) {
	if def := newServeCmd().Flags().Lookup("rate-limit").DefValue; def != "20" {
		t.Errorf("--rate-limit default = %s, want 20", def)
	}
	for _, tt := range []struct {
		rate    float64
		limited bool
	}{{1, true}, {0, false}} {
		t.Run(strconv.FormatFloat(tt.rate, 'f', -1, 64), func(t *testing.T) {
			cfg := testServeConfig(t)
			cfg.RateLimit = tt.rate
			m := openMain(t, cfg)
			m.serve(t)
			var last *http.Response
			for range 11 {
				res, err := http.Post("http://"+m.Addr()+"/api/v1/auth/keys", "application/json", strings.NewReader(`{"code":"nope"}`))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				last = res
			}
			if got := last.StatusCode == http.StatusTooManyRequests; got != tt.limited {
				t.Fatalf("11th request: %d, want limited=%v", last.StatusCode, tt.limited)
			}
			if tt.limited && last.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		})
	}
}
