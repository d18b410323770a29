package server

import (
	"fmt"
	"testing"
	"time"
)

// fakeNow is a settable clock for the limiter.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

func TestNewRateLimiter(t *testing.T) {
	tests := []struct {
		perSecond float64
		off       bool
		burst     int
		idle      time.Duration
	}{
		{0, true, 0, 0},
		{-1, true, 0, 0},
		{20, false, 200, 10 * time.Second},
		{1, false, 10, 10 * time.Second},
		{0.05, false, 1, 20 * time.Second},
		{1e12, false, 1 << 31 / 2, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.perSecond), func(t *testing.T) {
			l := newRateLimiter(tt.perSecond, 0, time.Now)
			if (l == nil) != tt.off {
				t.Fatalf("newRateLimiter(%v) = %v, want off=%v", tt.perSecond, l, tt.off)
			}
			if l == nil {
				return
			}
			if l.burst < tt.burst || (tt.perSecond < 1e6 && l.burst != tt.burst) {
				t.Errorf("burst = %d, want %d", l.burst, tt.burst)
			}
			if tt.perSecond < 1e6 && l.idle != tt.idle {
				t.Errorf("idle = %v, want %v", l.idle, tt.idle)
			}
		})
	}
}

// TestRateLimiterRetryAfter: an empty bucket reports how long until the
// next token.
func TestRateLimiterRetryAfter(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newRateLimiter(2, 0, clk.now) // burst 20, a token every 500ms
	for i := range 20 {
		if ok, _ := l.allow("192.0.2.1"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("192.0.2.1")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("21st request: ok=%v wait=%v, want refused with 0 < wait <= 500ms", ok, wait)
	}
	clk.t = clk.t.Add(wait)
	if ok, _ := l.allow("192.0.2.1"); !ok {
		t.Fatalf("after waiting %v: still refused", wait)
	}
}

// TestClientKey: IPv4 clients (also written IPv4-mapped) have a bucket
// each; IPv6 clients share their /64.
func TestClientKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
	}
	for _, tt := range tests {
		if clientKey(tt.a) != clientKey(tt.b) {
			t.Errorf("clientKey(%q) = %q, clientKey(%q) = %q: want the same bucket", tt.a, clientKey(tt.a), tt.b, clientKey(tt.b))
		}
	}
	for _, pair := range [][2]string{{"192.0.2.1", "192.0.2.2"}, {"2001:db8:1:2::1", "2001:db8:1:3::1"}} {
		if clientKey(pair[0]) == clientKey(pair[1]) {
			t.Errorf("clientKey(%q) == clientKey(%q): want different buckets", pair[0], pair[1])
		}
	}
}

// TestRateLimiterMemoryBounded: buckets idle longer than the refill time
// are dropped, and the table never grows past maxLimitedClients however
// many addresses send requests.
func TestRateLimiterMemoryBounded(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newRateLimiter(20, 0, clk.now)
	for i := range 1000 {
		l.allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := l.size(); n != 1000 {
		t.Fatalf("size = %d, want 1000", n)
	}
	clk.t = clk.t.Add(l.idle)
	l.allow("192.0.2.1")
	if n := l.size(); n != 1 {
		t.Fatalf("size after the idle period = %d, want 1 (idle buckets dropped)", n)
	}
	for i := range maxLimitedClients + 5000 {
		l.allow(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
		if i%4096 == 0 {
			if n := l.size(); n > maxLimitedClients {
				t.Fatalf("size = %d after %d addresses, want <= %d", n, i+1, maxLimitedClients)
			}
		}
	}
	if n := l.size(); n > maxLimitedClients {
		t.Fatalf("size = %d, want <= %d", n, maxLimitedClients)
	}
}
