package sqlite

import (
	"context"
	"time"
)

// checkpointEvery is how often runCheckpointer looks at the WAL. A file
// that takes commits all the time checkpoints this often; one that takes
// none does nothing.
const checkpointEvery = 100 * time.Millisecond

// runCheckpointer copies the WAL into the database file (a PASSIVE
// checkpoint: it never waits for readers or the writer, and stops where a
// reader still needs older pages) every checkpointEvery while commits
// come, until db closes. It replaces SQLite's automatic checkpoint, which
// runs inside the commit that crosses 1,000 pages, on the writer's time:
// here it runs beside the writer, whose commits only append to the WAL.
// A checkpoint that fails is tried again at the next tick; the WAL keeps
// every commit meanwhile, so nothing is lost, the file only grows.
func (db *DB) runCheckpointer() {
	defer close(db.checkpointerDone)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	done := db.commits.Load()
	for {
		select {
		case <-db.closed:
			return
		case <-tick.C:
		}
		n := db.commits.Load()
		if n == done {
			continue
		}
		if _, err := db.checkpointer.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err == nil {
			done = n
		}
	}
}
