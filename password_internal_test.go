package keygate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkGate: no more than the gate's slots run at once, however many
// ask; a caller that finds no slot within the wait gets errBusy with a
// Retry-After, one whose context ends first gets the context's error, and
// neither runs its work.
func TestWorkGate(t *testing.T) {
	t.Run("bounded", func(t *testing.T) {
		g := &workGate{slots: make(chan struct{}, 3), wait: time.Minute}
		var running, peak atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				err := g.do(t.Context(), func() {
					n := running.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					running.Add(-1)
				})
				if err != nil {
					t.Errorf("do = %v, want nil", err)
				}
			})
		}
		wg.Wait()
		if p := peak.Load(); p != 3 {
			t.Fatalf("peak concurrency = %d, want 3", p)
		}
	})

	full := func(t *testing.T, wait time.Duration) (*workGate, func()) {
		g := &workGate{slots: make(chan struct{}, 1), wait: wait}
		hold, started := make(chan struct{}), make(chan struct{})
		go g.do(context.Background(), func() { close(started); <-hold })
		<-started
		return g, func() { close(hold) }
	}
	t.Run("busy", func(t *testing.T) {
		g, release := full(t, 20*time.Millisecond)
		defer release()
		ran := false
		err := g.do(t.Context(), func() { ran = true })
		e, ok := errors.AsType[*Error](err)
		if !ok || e.Code != EUNAVAILABLE || e.RetryAfter <= 0 || ran {
			t.Fatalf("do on a full gate = %v (ran %v), want EUNAVAILABLE with RetryAfter, not run", err, ran)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		g, release := full(t, time.Minute)
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ran := false
		if err := g.do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("do with a cancelled context = %v (ran %v), want context.Canceled, not run", err, ran)
		}
	})
	t.Run("slot-freed", func(t *testing.T) {
		g, release := full(t, time.Minute)
		time.AfterFunc(10*time.Millisecond, release)
		ran := false
		if err := g.do(t.Context(), func() { ran = true }); err != nil || !ran {
			t.Fatalf("do once a slot frees = %v (ran %v), want nil, run", err, ran)
		}
	})
}
