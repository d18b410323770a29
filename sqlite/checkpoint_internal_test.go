package sqlite

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpointer commits with SQLite's automatic checkpoint off and
// checks that the rows reach the database file itself, read with the WAL
// ignored (immutable=1), within a few checkpoint intervals, and that the
// WAL stops growing while commits go on.
func TestCheckpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	insert := func(ref string) {
		t.Helper()
		err := db.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, ref) VALUES ('test', ?)`, ref)
			return err
		})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	insert("checkpointed")

	file, err := sql.Open("sqlite", connString(path, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	file.SetMaxOpenConns(1)
	deadline := time.Now().Add(20 * checkpointEvery)
	for {
		// A fresh connection each time: an immutable one caches pages.
		var n int
		err := file.QueryRowContext(t.Context(), `SELECT count(*) FROM changes WHERE ref = 'checkpointed'`).Scan(&n)
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the row is not in the database file after %v (count %d, err %v)", 20*checkpointEvery, n, err)
		}
		file.SetMaxIdleConns(0)
		time.Sleep(checkpointEvery / 2)
	}

	// 2,000 commits over ten checkpoint intervals: with every one of
	// them kept in the WAL it would hold at least 2,000 frames.
	const commits = 2_000
	pause := 10 * checkpointEvery / commits
	for i := range commits {
		insert("row")
		if i%100 == 0 {
			time.Sleep(100 * pause)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	if frames := fi.Size() / (pageSize + 24); frames >= commits {
		t.Errorf("WAL of %d bytes (%d frames) after %d commits: it was never reset", fi.Size(), frames, commits)
	}
}
