package postgres_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/storetest"
)

// TestListen checks what each change announces, on a second DB (another
// replica's pool) on the same schema.
func TestListen(t *testing.T) {
	u, _ := pgtest.NewSchema(t)
	db, other := pgtest.OpenURL(t, u), pgtest.OpenURL(t, u)
	l := storetest.Listen(t, other)
	ctx := t.Context()
	now := time.Now()

	user := &keygate.User{ID: "u1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now}
	ws := &keygate.Workspace{ID: "w1", Name: "Default", Slug: "default", CreatedAt: now}
	must(t, db.CreateUser(ctx, user, ws))
	k := &keygate.APIKey{Hash: keygate.HashSecret("k"), UserID: user.ID, WorkspaceID: ws.ID, Label: "k", CreatedAt: now}
	must(t, db.CreateKey(ctx, k))
	// App ids start at 1 in every schema, and tests on other schemas
	// announce changes of their app 1 on the same channel: this schema's
	// first app gets an id no other test's has.
	_, err := db.Pool().Exec(ctx, `ALTER TABLE apps ALTER COLUMN id RESTART WITH 1000000007`)
	must(t, err)
	app, err := db.UpsertApp(ctx, &keygate.App{URL: "https://a.example", Title: "A", CreatedAt: now})
	must(t, err)
	sess := &keygate.Session{TokenHash: keygate.HashSecret("s"), UserID: user.ID, CSRFToken: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, db.CreateSession(ctx, sess, nil))
	// Tests on other schemas announce on the same channel: only this
	// test's rows are looked at.
	l.Watch(k.Hash, strconv.FormatInt(app.ID, 10), sess.TokenHash)
	l.WantNone(t, 200*time.Millisecond) // creations are in no cache

	disable := keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: now}
	_, _, err = db.UpdateKey(ctx, k.Hash, disable)
	must(t, err)
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: k.Hash})

	_, err = db.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: "A", CreatedAt: now})
	must(t, err)
	l.WantNone(t, 200*time.Millisecond) // nothing changed
	_, err = db.UpsertApp(ctx, &keygate.App{URL: app.URL, Title: "A renamed", CreatedAt: now})
	must(t, err)
	l.Want(t, storetest.Event{Kind: keygate.ChangeApp, ID: strconv.FormatInt(app.ID, 10)})

	must(t, db.DeleteSession(ctx, sess.TokenHash))
	l.Want(t, storetest.Event{Kind: keygate.ChangeSession, ID: sess.TokenHash})

	must(t, db.DeleteKey(ctx, k.Hash))
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: k.Hash})

	// Failed changes announce nothing.
	if _, _, err := db.UpdateKey(ctx, k.Hash, disable); !errors.Is(err, keygate.ErrNotFound) {
		t.Fatalf("UpdateKey(deleted) = %v, want ErrNotFound", err)
	}
	l.WantNone(t, 200*time.Millisecond)
}

// TestListenRollback checks that an announcement made in a transaction
// that rolls back is never delivered.
func TestListenRollback(t *testing.T) {
	db := pgtest.Open(t)
	l := storetest.Listen(t, db)
	l.Watch("rolled-back")
	ctx := t.Context()
	tx, err := db.Pool().Begin(ctx)
	must(t, err)
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'key:rolled-back')`, postgres.Channel)
	must(t, err)
	must(t, tx.Rollback(ctx))
	l.WantNone(t, 200*time.Millisecond)
}

// TestListenReconnect kills the listener's connection: Listen connects
// again and calls Reset, since announcements may have been missed.
func TestListenReconnect(t *testing.T) {
	// The application name tells this test's connections from those of
	// tests running at the same time on the same server.
	u, schema := pgtest.NewSchema(t)
	db := pgtest.OpenURL(t, pgtest.WithParam(t, u, "application_name", schema))
	l := storetest.Listen(t, db)
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
	l.Watch("after-reconnect")
	l.Want(t, storetest.Reset)
	_, err = db.Pool().Exec(ctx, `SELECT pg_notify($1, 'key:after-reconnect')`, postgres.Channel)
	must(t, err)
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: "after-reconnect"})
}

// TestListenGarbage checks that an unreadable announcement empties the
// caches rather than being ignored.
func TestListenGarbage(t *testing.T) {
	db := pgtest.Open(t)
	l := storetest.Listen(t, db)
	l.Watch("none of other tests' ids") // resets only
	_, err := db.Pool().Exec(t.Context(), `SELECT pg_notify($1, 'no-colon')`, postgres.Channel)
	must(t, err)
	l.Want(t, storetest.Reset)
}

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
