package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/storetest"
)

// The storetest suite checks what each change announces. These tests
// check what is particular to SQLite: announcements cross processes
// through the file, rolled-back ones never arrive, pruned ones make the
// listener reset, and the table stays bounded.

// changesFixture is a file opened twice, as by a server and by the CLI,
// with a key in it.
type changesFixture struct {
	server, cli *sqlite.DB
	key         *keygate.APIKey
}

func newChangesFixture(t *testing.T) *changesFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keygate.db")
	f := &changesFixture{server: openAt(t, path), cli: openAt(t, path)}
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	u := &keygate.User{ID: "u1", Email: "a@example.com", PasswordHash: "h", CreatedAt: now}
	ws := &keygate.Workspace{ID: "w1", Name: "Default", Slug: "default", CreatedAt: now}
	f.key = &keygate.APIKey{Hash: keygate.HashSecret("k"), UserID: u.ID, WorkspaceID: ws.ID, Label: "k", CreatedAt: now}
	ctx := t.Context()
	if err := f.cli.CreateUser(ctx, u, ws); err != nil {
		t.Fatal(err)
	}
	if err := f.cli.CreateKey(ctx, f.key); err != nil {
		t.Fatal(err)
	}
	return f
}

// disable disables the key through the CLI's handle.
func (f *changesFixture) disable(t *testing.T, disabled bool) {
	t.Helper()
	if _, _, err := f.cli.UpdateKey(t.Context(), f.key.Hash, keygate.KeyPatch{Disabled: &disabled, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// inCLITx runs statements in one write transaction of the CLI's handle and
// commits it, or rolls it back when commit is false.
func (f *changesFixture) inCLITx(t *testing.T, commit bool, stmts ...string) {
	t.Helper()
	writer, _ := sqlite.Pools(f.cli)
	tx, err := writer.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			tx.Rollback()
			t.Fatalf("%s: %v", s, err)
		}
	}
	if commit {
		err = tx.Commit()
	} else {
		err = tx.Rollback()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestListenAcrossHandles: a change made through another handle on the
// file (another process) reaches the listener; one rolled back never
// does.
func TestListenAcrossHandles(t *testing.T) {
	f := newChangesFixture(t)
	l := storetest.Listen(t, f.server)
	f.inCLITx(t, false, `INSERT INTO changes (kind, ref) VALUES ('key', 'rolled-back')`)
	f.disable(t, true)
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: f.key.Hash})
	if err := f.cli.DeleteKey(t.Context(), f.key.Hash); err != nil {
		t.Fatal(err)
	}
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: f.key.Hash})
}

// TestListenPruned: announcements deleted before the listener read them
// leave a gap in the ids, and the listener resets its caches.
func TestListenPruned(t *testing.T) {
	f := newChangesFixture(t)
	l := storetest.Listen(t, f.server)
	f.inCLITx(t, true,
		`INSERT INTO changes (kind, ref) VALUES ('key', 'missed')`,
		`INSERT INTO changes (kind, ref) VALUES ('key', 'seen')`,
		`DELETE FROM changes WHERE ref = 'missed'`)
	l.Want(t, storetest.Reset)
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: "seen"})
	f.disable(t, true) // no gap since
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: f.key.Hash})
}

// TestListenUnreadable: an announcement without a kind or an id empties
// the caches rather than being ignored.
func TestListenUnreadable(t *testing.T) {
	f := newChangesFixture(t)
	l := storetest.Listen(t, f.server)
	f.inCLITx(t, true, `INSERT INTO changes (kind, ref) VALUES ('', 'x')`)
	l.Want(t, storetest.Reset)
	f.disable(t, true)
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: f.key.Hash})
}

// TestListenFromNow: a listener starts after the announcements already
// made (its first Reset covers them) and hears only later ones.
func TestListenFromNow(t *testing.T) {
	f := newChangesFixture(t)
	f.disable(t, true)
	f.disable(t, false)
	l := storetest.Listen(t, f.server)
	f.disable(t, true)
	l.Want(t, storetest.Event{Kind: keygate.ChangeKey, ID: f.key.Hash})
	l.WantNone(t, 3*sqlite.PollInterval)
}

// TestListenStopsOnClose: closing the DB ends Listen with an error.
func TestListenStopsOnClose(t *testing.T) {
	db := openTemp(t)
	done := make(chan error, 1)
	go func() {
		done <- db.Listen(context.Background(), keygate.Invalidations{Changed: func(string, string) {}, Reset: func() {}})
	}()
	time.Sleep(2 * sqlite.PollInterval)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Listen after Close = %v, want an error saying the database is closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Listen still running 5s after Close")
	}
}

// TestChangesPruned: every ChangesPruneEvery-th announcement deletes all
// but the newest ChangesKept.
func TestChangesPruned(t *testing.T) {
	f := newChangesFixture(t)
	// Old rows, and a sequence one short of a pruning announcement.
	next := int64(sqlite.ChangesKept + sqlite.ChangesPruneEvery)
	f.inCLITx(t, true,
		`INSERT INTO changes (id, kind, ref) VALUES (1, 'key', 'old'), (2, 'key', 'old'), (1000, 'key', 'old'), (1001, 'key', 'kept')`,
		`UPDATE sqlite_sequence SET seq = `+itoa(next-2)+` WHERE name = 'changes'`)
	refs := func() []string {
		_, reader := sqlite.Pools(f.cli)
		rows, err := reader.QueryContext(t.Context(), `SELECT ref FROM changes ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var r sql.Null[string]
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r.V)
		}
		return out
	}
	f.disable(t, true) // id next-1: no pruning
	if got := refs(); len(got) != 5 {
		t.Fatalf("after a plain announcement: %v, want the 4 old rows and the new one", got)
	}
	f.disable(t, false) // id next: prunes ids <= next - ChangesKept = 1000
	got := refs()
	want := []string{"kept", f.key.Hash, f.key.Hash}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("after a pruning announcement: %v, want %v", got, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
