package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
)

// Announcements of changes. SQLite has no LISTEN/NOTIFY, so every change
// that another process on the file may hold in a cache (a key updated or
// deleted, a session deleted, an app renamed) adds a row to the changes
// table in the transaction that makes it, and Listen reads the rows added
// since it last looked. A row exists exactly when its change committed.

// PollInterval is how often Listen looks for new announcements: a key
// disabled or deleted by another process on the file (the CLI) stops
// working in a running server about this long later at most.
const PollInterval = 250 * time.Millisecond

// DefaultRetryDelay is how long Listen waits after a failed read before it
// tries again, when Invalidations.RetryDelay is zero.
const DefaultRetryDelay = time.Second

// The table keeps the newest changesKept announcements: every
// changesPruneEvery-th announcement deletes the older ones in its own
// transaction, so the table stays small whether or not anyone listens. A
// listener that falls further behind finds a gap in the ids and resets.
const (
	changesKept       = 10_000
	changesPruneEvery = 1_000
)

// changesBatch is how many announcements Listen reads at a time.
const changesBatch = 1_000

// errClosed is returned by Listen when the DB is closed under it.
var errClosed = errors.New("sqlite: listen: database closed")

var _ keygate.ChangeFeed = (*DB)(nil)

// announce records a change of kind to the row ref in tx, for Listen to
// read once tx commits.
func announce(ctx context.Context, tx *sql.Tx, kind, ref string) error {
	var id int64
	if err := tx.QueryRowContext(ctx,
		`INSERT INTO changes (kind, ref) VALUES (?, ?) RETURNING id`, kind, ref).Scan(&id); err != nil {
		return err
	}
	if id%changesPruneEvery != 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE id <= ?`, id-changesKept)
	return err
}

// Listen calls inv's functions for the changes that any process on the
// file commits, this one included, until ctx is done or the DB is closed;
// it returns ctx's error, or an error saying the DB was closed. It reads
// the changes table every PollInterval on a read-only connection, from the
// newest announcement there was when it started; Reset is called once it
// has found that starting point, and again if announcements it had not
// read were pruned before it could. A failed read is told to inv.Error and
// tried again after inv.RetryDelay (DefaultRetryDelay when zero): the
// announcements wait in the table meanwhile.
func (db *DB) Listen(ctx context.Context, inv keygate.Invalidations) error {
	if inv.Changed == nil || inv.Reset == nil {
		return errors.New("sqlite: listen: Changed and Reset are required")
	}
	retry := inv.RetryDelay
	if retry <= 0 {
		retry = DefaultRetryDelay
	}
	failed := func(err error) error {
		if inv.Error != nil && ctx.Err() == nil {
			inv.Error(fmt.Errorf("sqlite: listen: %w", err))
		}
		return db.sleep(ctx, retry)
	}
	var last int64
	for {
		err := db.reader.QueryRowContext(ctx,
			`SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)`).Scan(&last)
		if err == nil {
			break
		}
		if err := failed(err); err != nil {
			return err
		}
	}
	inv.Reset()
	for {
		if err := db.sleep(ctx, PollInterval); err != nil {
			return err
		}
		var err error
		if last, err = db.deliverChanges(ctx, last, inv); err != nil {
			if err := failed(err); err != nil {
				return err
			}
		}
	}
}

// deliverChanges calls inv's functions for the announcements after last
// and returns the id of the last one delivered.
func (db *DB) deliverChanges(ctx context.Context, last int64, inv keygate.Invalidations) (int64, error) {
	type change struct {
		id        int64
		kind, ref string
	}
	for {
		// Read a batch, then deliver it, so that no connection is held
		// while the callbacks run.
		rows, err := db.reader.QueryContext(ctx,
			`SELECT id, kind, ref FROM changes WHERE id > ? ORDER BY id LIMIT ?`, last, changesBatch)
		if err != nil {
			return last, err
		}
		var batch []change
		for rows.Next() {
			var c change
			if err := rows.Scan(&c.id, &c.kind, &c.ref); err != nil {
				rows.Close()
				return last, err
			}
			batch = append(batch, c)
		}
		if err := rows.Close(); err != nil {
			return last, err
		}
		if err := rows.Err(); err != nil {
			return last, err
		}
		for _, c := range batch {
			if c.id != last+1 || c.kind == "" || c.ref == "" {
				// Announcements were pruned before this listener read
				// them, or this one cannot be read.
				inv.Reset()
			}
			if c.kind != "" && c.ref != "" {
				inv.Changed(c.kind, c.ref)
			}
			last = c.id
		}
		if len(batch) < changesBatch {
			return last, nil
		}
	}
}

// sleep waits for d, and returns ctx's error if ctx is done first or
// errClosed if the DB is closed first.
func (db *DB) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closed:
		return errClosed
	case <-t.C:
		return nil
	}
}
