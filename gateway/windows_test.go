package gateway_test

import (
	"bufio"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// clock is a settable clock for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestLimitWindows: a key past its limit in this window is
// refused with the window's name and admitted in the next window (UTC
// day, ISO week from Monday, UTC month; never for a total limit).
func TestLimitWindows(t *testing.T) {
	tests := []struct {
		reset      string
		start      string // a call at start and one at same spend the limit
		same, next string // the same window; the next one
		window     string
	}{
		{"daily", "2026-03-10T00:00:00Z", "2026-03-10T23:59:59Z", "2026-03-11T00:00:00Z", "daily"},
		{"weekly", "2026-03-09T00:00:00Z", "2026-03-15T23:59:59Z", "2026-03-16T00:00:00Z", "weekly"}, // Monday to Sunday
		{"monthly", "2026-03-01T00:00:00Z", "2026-03-31T23:59:59Z", "2026-04-01T00:00:00Z", "monthly"},
		{"", "2026-03-01T00:00:00Z", "2026-03-31T23:59:59Z", "2027-04-01T00:00:00Z", "total"},
	}
	for _, tt := range tests {
		t.Run(tt.window, func(t *testing.T) {
			clk := &clock{now: parseTime(t, tt.start)}
			e := newEnv(t, keygate.WithClock(clk.Now))
			e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
			k, _, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: e.user.ID, Name: "k", LimitUSD: usd(0.000070), LimitReset: tt.reset})
			if err != nil {
				t.Fatal(err)
			}
			call := func(want int) {
				t.Helper()
				r := e.post("/api/v1/chat/completions", k, chat("t/cheap", false, "max_tokens", 20))
				if r.status != want {
					t.Fatalf("at %s: status %d %s, want %d", clk.Now().Format(time.RFC3339), r.status, r.body, want)
				}
				if want == 403 {
					if msg := r.errMessage(t); msg != "Key limit exceeded ("+tt.window+" limit)" {
						t.Errorf("message %q", msg)
					}
				}
			}
			call(200)
			clk.set(parseTime(t, tt.same))
			call(200) // usage 70 = the limit: refused from now on
			call(403)
			clk.set(parseTime(t, tt.next))
			if tt.window == "total" {
				call(403)
				return
			}
			call(200)
			if got := e.spent(k); got != 105 {
				t.Errorf("usage %d µ$, want 105 over both windows", got)
			}
		})
	}
}

// TestLimitEdits: a call that spans 00:00 UTC is charged in the
// day it started; renaming, disabling and enabling a key, or raising its
// limit, keep its usage; a limit lowered below the usage refuses the next
// call.
func TestLimitEdits(t *testing.T) {
	clk := &clock{now: parseTime(t, "2026-03-10T23:59:59Z")}
	e := newEnv(t, keygate.WithClock(clk.Now))
	u := &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}
	hold := make(chan struct{})
	e.script("cheap-v2", upstreamtest.Reply{Usage: u, Hold: hold, Content: []string{"Hel", "lo"}})
	key, k, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: e.user.ID, Name: "k", LimitUSD: usd(0.000100), LimitReset: "daily"})
	if err != nil {
		t.Fatal(err)
	}
	resp := e.stream(key, chat("t/cheap", true))
	br := bufio.NewReader(resp.Body)
	readEvent(t, br)
	clk.set(parseTime(t, "2026-03-11T00:00:01Z")) // the answer ends after midnight
	close(hold)
	for readEvent(t, br) != "" {
	}
	resp.Body.Close()
	info := e.keyInfo(key)
	if info.Usage != 0.000035 || info.UsageDaily != 0 {
		t.Errorf("after a call from 23:59:59: usage %v, usage_daily %v on the next day, want 0.000035 and 0", info.Usage, info.UsageDaily)
	}
	clk.set(parseTime(t, "2026-03-10T23:59:59Z"))
	if info := e.keyInfo(key); info.UsageDaily != 0.000035 {
		t.Errorf("usage_daily of the day it started = %v, want 0.000035", info.UsageDaily)
	}

	e.script("cheap-v2", upstreamtest.Reply{Usage: u})
	call := func(want int) {
		t.Helper()
		if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false, "max_tokens", 20)); r.status != want {
			t.Fatalf("status %d %s, want %d", r.status, r.body, want)
		}
	}
	call(200) // 70 µ$ today
	name, yes, no := "renamed", true, false
	edits := []struct {
		name string
		u    keygate.KeyUpdate
		want int // the next call's status
	}{
		{"rename", keygate.KeyUpdate{Name: &name}, 200},
		{"disable", keygate.KeyUpdate{Disabled: &yes}, 401},
		{"enable", keygate.KeyUpdate{Disabled: &no}, 403}, // 105 µ$ > 100
		{"raise", keygate.KeyUpdate{SetLimit: true, LimitUSD: usd(0.001)}, 200},
		{"lower-below-usage", keygate.KeyUpdate{SetLimit: true, LimitUSD: usd(0.000100)}, 403},
	}
	spent := keygate.Micros(70)
	for _, ed := range edits {
		if _, err := e.svc.UpdateKey(t.Context(), e.user.ID, k.Hash, ed.u); err != nil {
			t.Fatalf("%s: %v", ed.name, err)
		}
		call(ed.want)
		if ed.want == 200 {
			spent += 35
		}
		if ed.want != 401 {
			if got := e.spent(key); got != spent {
				t.Errorf("after %s: usage %d µ$, want %d", ed.name, got, spent)
			}
		}
	}
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
