package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// Event is one call of an Invalidations function: a change announced by
// ChangeFeed.Listen, or Kind "reset" (ID "") for a Reset.
type Event struct{ Kind, ID string }

// Reset is the Event of a Reset call.
var Reset = Event{Kind: "reset"}

// Listener is a ChangeFeed.Listen running until its test ends, and the
// calls it has made, for tests of a feed (this suite's and each
// adapter's own).
type Listener struct {
	events chan Event
	// ids, when not empty, are the ids whose changes Want and WantNone
	// report; others are skipped. On PostgreSQL, tests running at the
	// same time on other schemas of the database announce on the same
	// channel.
	ids map[string]bool
}

// Listen starts f.Listen, retrying 50 ms after a failure (failures are
// logged to t), until t ends, and returns once the first Reset says it is
// listening. At the end of t, Listen must return context.Canceled.
func Listen(t *testing.T, f keygate.ChangeFeed) *Listener {
	t.Helper()
	l := &Listener{events: make(chan Event, 1000), ids: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Listen(ctx, keygate.Invalidations{
			Changed:    func(kind, id string) { l.events <- Event{kind, id} },
			Reset:      func() { l.events <- Reset },
			Error:      func(err error) { t.Logf("Listen: %v", err) },
			RetryDelay: 50 * time.Millisecond,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Listen = %v, want context.Canceled", err)
		}
	})
	l.Want(t, Reset)
	return l
}

// Watch restricts what the listener reports to resets and the changes of
// ids, these and those of earlier calls. Until it is called, every change
// is reported.
func (l *Listener) Watch(ids ...string) {
	for _, id := range ids {
		l.ids[id] = true
	}
}

// next returns the next reported event, or false when none comes within d.
func (l *Listener) next(d time.Duration) (Event, bool) {
	deadline := time.After(d)
	for {
		select {
		case got := <-l.events:
			if got.Kind != Reset.Kind && len(l.ids) > 0 && !l.ids[got.ID] {
				continue
			}
			return got, true
		case <-deadline:
			return Event{}, false
		}
	}
}

// Want fails unless the next reported event is w, within five seconds. A
// change announced before w's but not expected fails here too, which is
// how a test checks that a step announced nothing: by making an announced
// change after it.
func (l *Listener) Want(t *testing.T, w Event) {
	t.Helper()
	got, ok := l.next(5 * time.Second)
	if !ok {
		t.Fatalf("no event within 5s, want %+v", w)
	}
	if got != w {
		t.Fatalf("event = %+v, want %+v", got, w)
	}
}

// WantNone fails if an event is reported within d.
func (l *Listener) WantNone(t *testing.T, d time.Duration) {
	t.Helper()
	if got, ok := l.next(d); ok {
		t.Fatalf("unexpected event %+v", got)
	}
}
