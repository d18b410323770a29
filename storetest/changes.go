package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// The change feed: stores that implement keygate.ChangeFeed announce every
// change to a row that a process may cache, once it commits, and nothing
// else. The listener here runs on the same store that makes the changes,
// as a process hears its own announcements.

var changeTests = []test{
	{"Announced", testChangesAnnounced},
	{"CommitOrder", testChangesCommitOrder},
	{"CallbacksRequired", func(t *testing.T, s keygate.Store) {
		err := feedOf(t, s).Listen(t.Context(), keygate.Invalidations{Changed: func(string, string) {}})
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Listen(without Reset) = %v, want an error at once", err)
		}
	}},
}

// feedOf returns s's change feed, skipping the test when it has none.
func feedOf(t *testing.T, s keygate.Store) keygate.ChangeFeed {
	t.Helper()
	f, ok := s.(keygate.ChangeFeed)
	if !ok {
		t.Skip("the store has no change feed")
	}
	return f
}

// feedEvent is one call of an Invalidations function; kind is "reset" for
// Reset.
type feedEvent struct{ kind, id string }

// feedListener is a running Listen and what it has called.
type feedListener struct {
	events chan feedEvent
	// ids are the ids this test's changes announce. Other announcements
	// are skipped: on PostgreSQL, tests running at the same time on other
	// schemas of the database announce on the same channel.
	ids map[string]bool
}

// listen starts Listen on s until the test ends and returns once the first
// Reset says it is listening.
func listen(t *testing.T, s keygate.Store) *feedListener {
	t.Helper()
	f := feedOf(t, s)
	l := &feedListener{events: make(chan feedEvent, 1000), ids: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Listen(ctx, keygate.Invalidations{
			Changed:    func(kind, id string) { l.events <- feedEvent{kind, id} },
			Reset:      func() { l.events <- feedEvent{"reset", ""} },
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
	l.want(t, feedEvent{"reset", ""})
	return l
}

// watch adds ids to those the listener reports.
func (l *feedListener) watch(ids ...string) {
	for _, id := range ids {
		l.ids[id] = true
	}
}

// want fails unless the next reported event is w, within five seconds.
// A change announced before w's but not expected fails here too, which
// is how a test checks that a step announced nothing: by making an
// announced change after it.
func (l *feedListener) want(t *testing.T, w feedEvent) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-l.events:
			if got.kind != "reset" && !l.ids[got.id] {
				continue
			}
			if got != w {
				t.Fatalf("event = %+v, want %+v", got, w)
			}
			return
		case <-deadline:
			t.Fatalf("no event within 5s, want %+v", w)
		}
	}
}

// testChangesAnnounced makes each kind of change, and changes that must
// not be announced, and checks what the listener hears, in order.
func testChangesAnnounced(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	l := listen(t, s)
	u, ws := newUser(t, s)
	k := newKey(t, s, ws, t0)
	other := newKey(t, s, ws, t0)
	app := newApp(t, s, "https://changes.example.com")
	sess := newSession(t, s, u.ID, at(time.Hour))
	appID := strconv.FormatInt(app.ID, 10)
	l.watch(k.Hash, other.Hash, appID, sess.TokenHash)
	// barrier makes an announced change: the next event must be its, so
	// whatever was done since the last one announced nothing.
	barrier := func(step string) {
		t.Helper()
		_, _, err := s.UpdateKey(ctx, other.Hash, keygate.KeyPatch{Name: ptr("after " + step), UpdatedAt: at(time.Minute)})
		must(t, "UpdateKey(other)", err)
		l.want(t, feedEvent{keygate.ChangeKey, other.Hash})
	}
	// Creations are in no cache.
	barrier("creations")
	_, _, err := s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: at(time.Minute)})
	must(t, "UpdateKey", err)
	l.want(t, feedEvent{keygate.ChangeKey, k.Hash})

	// An upsert that changes nothing is not announced; one that does is.
	_, err = s.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: app.Title, CreatedAt: t0})
	must(t, "UpsertApp(same)", err)
	barrier("unchanged app")
	_, err = s.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: "Renamed", CreatedAt: t0})
	must(t, "UpsertApp(renamed)", err)
	l.want(t, feedEvent{keygate.ChangeApp, appID})

	must(t, "DeleteSession", s.DeleteSession(ctx, sess.TokenHash))
	l.want(t, feedEvent{keygate.ChangeSession, sess.TokenHash})
	// Updating a user ends their sessions, each announced.
	ended := newSession(t, s, u.ID, at(time.Hour))
	l.watch(ended.TokenHash)
	must(t, "UpdateUser", s.UpdateUser(ctx, u))
	l.want(t, feedEvent{keygate.ChangeSession, ended.TokenHash})
	must(t, "DeleteKey", s.DeleteKey(ctx, k.Hash))
	l.want(t, feedEvent{keygate.ChangeKey, k.Hash})

	// Failed changes announce nothing.
	_, _, err = s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Disabled: ptr(false), UpdatedAt: at(time.Minute)})
	wantErr(t, "UpdateKey(deleted)", err, keygate.ErrNotFound)
	wantErr(t, "DeleteKey(again)", s.DeleteKey(ctx, k.Hash), keygate.ErrNotFound)
	wantErr(t, "DeleteSession(again)", s.DeleteSession(ctx, sess.TokenHash), keygate.ErrNotFound)
	barrier("failed changes")
}

// testChangesCommitOrder updates 20 keys one after another: the listener
// hears them in that order.
func testChangesCommitOrder(t *testing.T, s keygate.Store) {
	const n = 20
	ctx := t.Context()
	l := listen(t, s)
	_, ws := newUser(t, s)
	keys := make([]*keygate.APIKey, n)
	for i := range keys {
		keys[i] = newKey(t, s, ws, t0)
		l.watch(keys[i].Hash)
	}
	for i, k := range keys {
		_, _, err := s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Name: ptr(fmt.Sprint("key ", i)), UpdatedAt: at(time.Minute)})
		must(t, "UpdateKey", err)
	}
	for _, k := range keys {
		l.want(t, feedEvent{keygate.ChangeKey, k.Hash})
	}
}
