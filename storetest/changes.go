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

// testChangesAnnounced makes each kind of change, and changes that must
// not be announced, and checks what the listener hears, in order.
func testChangesAnnounced(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	l := Listen(t, feedOf(t, s))
	u, ws := newUser(t, s)
	k := newKey(t, s, ws, t0)
	other := newKey(t, s, ws, t0)
	app := newApp(t, s, "https://changes.example.com")
	sess := newSession(t, s, u.ID, at(time.Hour))
	appID := strconv.FormatInt(app.ID, 10)
	l.Watch(k.Hash, other.Hash, appID, sess.TokenHash)
	// barrier makes an announced change: the next event must be its, so
	// whatever was done since the last one announced nothing.
	barrier := func(step string) {
		t.Helper()
		_, _, err := s.UpdateKey(ctx, other.Hash, keygate.KeyPatch{Name: ptr("after " + step), UpdatedAt: at(time.Minute)})
		must(t, "UpdateKey(other)", err)
		l.Want(t, Event{keygate.ChangeKey, other.Hash})
	}
	// Creations are in no cache.
	barrier("creations")
	_, _, err := s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: at(time.Minute)})
	must(t, "UpdateKey", err)
	l.Want(t, Event{keygate.ChangeKey, k.Hash})

	// An upsert that changes nothing is not announced; one that does is.
	_, err = s.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: app.Title, CreatedAt: t0})
	must(t, "UpsertApp(same)", err)
	barrier("unchanged app")
	_, err = s.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: "Renamed", CreatedAt: t0})
	must(t, "UpsertApp(renamed)", err)
	l.Want(t, Event{keygate.ChangeApp, appID})

	must(t, "DeleteSession", s.DeleteSession(ctx, sess.TokenHash))
	l.Want(t, Event{keygate.ChangeSession, sess.TokenHash})
	// Updating a user ends their sessions, each announced.
	ended := newSession(t, s, u.ID, at(time.Hour))
	l.Watch(ended.TokenHash)
	must(t, "UpdateUser", s.UpdateUser(ctx, u))
	l.Want(t, Event{keygate.ChangeSession, ended.TokenHash})
	must(t, "DeleteKey", s.DeleteKey(ctx, k.Hash))
	l.Want(t, Event{keygate.ChangeKey, k.Hash})

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
	l := Listen(t, feedOf(t, s))
	_, ws := newUser(t, s)
	keys := make([]*keygate.APIKey, n)
	for i := range keys {
		keys[i] = newKey(t, s, ws, t0)
		l.Watch(keys[i].Hash)
	}
	for i, k := range keys {
		_, _, err := s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Name: ptr(fmt.Sprint("key ", i)), UpdatedAt: at(time.Minute)})
		must(t, "UpdateKey", err)
	}
	for _, k := range keys {
		l.Want(t, Event{keygate.ChangeKey, k.Hash})
	}
}
