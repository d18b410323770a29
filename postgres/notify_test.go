package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/postgres/pgtest"
)

// event is one call of an Invalidations function.
type event struct{ kind, id string } // kind "reset" for Reset

// listen starts db.Listen until the test ends and returns the channel of
// its calls, once the first Reset says it is listening.
func listen(t *testing.T, db *postgres.DB) <-chan event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan event, 100)
	done := make(chan error, 1)
	go func() {
		done <- db.Listen(ctx, keygate.Invalidations{
			Changed:    func(kind, id string) { events <- event{kind, id} },
			Reset:      func() { events <- event{"reset", ""} },
			RetryDelay: 50 * time.Millisecond,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Listen = %v, want context.Canceled", err)
		}
	})
	want(t, events, event{"reset", ""})
	return events
}

// want fails unless the next event is w, within five seconds.
func want(t *testing.T, events <-chan event, w event) {
	t.Helper()
	select {
	case got := <-events:
		if got != w {
			t.Fatalf("event = %+v, want %+v", got, w)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event within 5s, want %+v", w)
	}
}

// wantNone fails if an event arrives within a short while.
func wantNone(t *testing.T, events <-chan event) {
	t.Helper()
	select {
	case got := <-events:
		t.Fatalf("unexpected event %+v", got)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestListen checks what each change announces, on a second DB (another
// replica's pool) on the same schema.
func TestListen(t *testing.T) {
	u, _ := pgtest.NewSchema(t)
	db, other := pgtest.OpenURL(t, u), pgtest.OpenURL(t, u)
	events := listen(t, other)
	ctx := t.Context()
	now := time.Now()

	user := &keygate.User{ID: "u1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now}
	ws := &keygate.Workspace{ID: "w1", Name: "Default", Slug: "default", CreatedAt: now}
	must(t, db.CreateUser(ctx, user, ws))
	k := &keygate.APIKey{Hash: keygate.HashSecret("k"), UserID: user.ID, WorkspaceID: ws.ID, Label: "k", CreatedAt: now}
	must(t, db.CreateKey(ctx, k))
	app, err := db.UpsertApp(ctx, &keygate.App{URL: "https://a.example", Title: "A", CreatedAt: now})
	must(t, err)
	sess := &keygate.Session{TokenHash: keygate.HashSecret("s"), UserID: user.ID, CSRFToken: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, db.CreateSession(ctx, sess))
	wantNone(t, events) // creations are in no cache

	disable := keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: now}
	_, _, err = db.UpdateKey(ctx, k.Hash, disable)
	must(t, err)
	want(t, events, event{keygate.ChangeKey, k.Hash})

	_, err = db.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: "A", CreatedAt: now})
	must(t, err)
	wantNone(t, events) // nothing changed
	_, err = db.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: "A renamed", CreatedAt: now})
	must(t, err)
	want(t, events, event{keygate.ChangeApp, "1"})

	must(t, db.DeleteSession(ctx, sess.TokenHash))
	want(t, events, event{keygate.ChangeSession, sess.TokenHash})

	must(t, db.DeleteKey(ctx, k.Hash))
	want(t, events, event{keygate.ChangeKey, k.Hash})

	// Failed changes announce nothing.
	if _, _, err := db.UpdateKey(ctx, k.Hash, disable); !errors.Is(err, keygate.ErrNotFound) {
		t.Fatalf("UpdateKey(deleted) = %v, want ErrNotFound", err)
	}
	wantNone(t, events)
}

// TestListenRollback checks that an announcement made in a transaction
// that rolls back is never delivered.
func TestListenRollback(t *testing.T) {
	db := pgtest.Open(t)
	events := listen(t, db)
	ctx := t.Context()
	tx, err := db.Pool().Begin(ctx)
	must(t, err)
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'key:rolled-back')`, postgres.Channel)
	must(t, err)
	must(t, tx.Rollback(ctx))
	wantNone(t, events)
}

// TestListenReconnect kills the listener's connection: Listen connects
// again and calls Reset, since announcements may have been missed.
func TestListenReconnect(t *testing.T) {
	// The application name tells this test's connections from those of
	// tests running at the same time on the same server.
	u, schema := pgtest.NewSchema(t)
	db := pgtest.OpenURL(t, pgtest.WithParam(t, u, "application_name", schema))
	events := listen(t, db)
	ctx := t.Context()
	var n int
	err := db.Pool().QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query ILIKE 'listen %' AND pid <> pg_backend_pid()`,
		schema).Scan(&n)
	must(t, err)
	if n == 0 {
		t.Fatal("no listening connection found to terminate")
	}
	want(t, events, event{"reset", ""})
	_, err = db.Pool().Exec(ctx, `SELECT pg_notify($1, 'key:after-reconnect')`, postgres.Channel)
	must(t, err)
	want(t, events, event{keygate.ChangeKey, "after-reconnect"})
}

// TestListenGarbage checks that an unreadable announcement empties the
// caches rather than being ignored.
func TestListenGarbage(t *testing.T) {
	db := pgtest.Open(t)
	events := listen(t, db)
	_, err := db.Pool().Exec(t.Context(), `SELECT pg_notify($1, 'no-colon')`, postgres.Channel)
	must(t, err)
	want(t, events, event{"reset", ""})
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
