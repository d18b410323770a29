package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// maxBatch is the most write requests committed in one transaction.
const maxBatch = 64

// errWriteClosed is the error of a write on a closed DB.
var errWriteClosed = errors.New("sqlite: write: database closed")

// writeReq is one call of write, queued for the writer goroutine.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan writeResult // buffered, one result
}

type writeResult struct {
	err   error
	panic any // a panic of fn, raised again in the caller
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the writer
// connection) and returns once that transaction has committed, or with
// fn's error and nothing of fn's written.
//
// Calls made while the writer is busy are committed together (group
// commit): the writer goroutine runs the queued functions one after the
// other in one transaction, each inside a savepoint that is rolled back if
// it fails, and commits once. Each caller still returns only after the
// commit that holds its writes; if that commit fails, every function of
// the batch gets its error. A function sees the writes of the functions
// before it in the batch, exactly as it would if each had committed on its
// own, in that order.
//
// fn gets a context without its caller's cancellation: a statement
// interrupted by a cancelled context makes SQLite roll back the whole
// transaction, so one client going away mid-batch would fail the writes of
// every other caller in it. A request whose context has ended before its
// turn is skipped; once it runs, it runs to its end.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if db.writer == nil {
		return ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case db.writes <- r:
	case <-db.closed:
		return errWriteClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the request is answered: the caller waits for the
	// commit even if ctx ends, so that an error never hides a write.
	res := <-r.done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// runWriter is the writer goroutine: it takes the queued writes in
// batches and commits each batch in one transaction, until db closes.
func (db *DB) runWriter() {
	defer close(db.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-db.writes:
			batch = append(batch[:0], r)
		case <-db.closed:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-db.writes:
				batch = append(batch, r)
			default:
				break more
			}
		}
		db.commitBatch(batch)
		clear(batch)
	}
}

// commitBatch runs batch in one write transaction and answers each
// request.
func (db *DB) commitBatch(batch []*writeReq) {
	results := make([]writeResult, len(batch))
	ok := make([]bool, len(batch)) // fn returned nil; its writes await the commit
	answer := func(commitErr error) {
		for i, r := range batch {
			res := results[i]
			if ok[i] {
				res.err = commitErr
			}
			r.done <- res
		}
	}
	tx, err := db.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range results {
			results[i].err = err
		}
		answer(nil)
		return
	}
	// A single request needs no savepoint: its failure rolls back the
	// whole transaction.
	if len(batch) == 1 {
		results[0] = runFn(batch[0], tx)
		if results[0].err != nil || results[0].panic != nil {
			tx.Rollback()
			answer(nil)
			return
		}
		ok[0] = true
		answer(db.commit(tx))
		return
	}
	sp := func(st *sql.Stmt) error {
		_, err := tx.StmtContext(context.Background(), st).Exec()
		return err
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if err := sp(db.st.savepoint); err != nil {
			db.failBatch(tx, batch, results, ok, err)
			return
		}
		results[i] = runFn(r, tx)
		if results[i].err == nil && results[i].panic == nil {
			if err := sp(db.st.release); err != nil {
				db.failBatch(tx, batch, results, ok, err)
				return
			}
			ok[i] = true
			continue
		}
		// Undo fn's writes and carry on with the rest of the batch. If
		// SQLite has rolled the whole transaction back (it may, on an
		// I/O error or a full disk), the rollback to the savepoint fails
		// and so does the batch.
		if err := sp(db.st.rollbackTo); err != nil {
			db.failBatch(tx, batch, results, ok, err)
			return
		}
		if err := sp(db.st.release); err != nil {
			db.failBatch(tx, batch, results, ok, err)
			return
		}
	}
	answer(db.commit(tx))
}

// commit commits tx and counts it.
func (db *DB) commit(tx *sql.Tx) error {
	err := tx.Commit()
	if err == nil {
		db.commits.Add(1)
	}
	return err
}

// WriteCount returns how many write transactions this DB has committed:
// every write goes through the writer goroutine, so under a gateway's load
// this is the database writes its settlements cost (many per transaction),
// for tests and benchmarks.
func (db *DB) WriteCount() int64 { return db.commits.Load() }

// failBatch rolls tx back and answers every request of batch that has no
// error of its own with err.
func (db *DB) failBatch(tx *sql.Tx, batch []*writeReq, results []writeResult, ok []bool, err error) {
	tx.Rollback()
	err = fmt.Errorf("write batch: %w", err)
	for i, r := range batch {
		res := results[i]
		if ok[i] || (res.err == nil && res.panic == nil) {
			res.err = err
		}
		r.done <- res
	}
}

// runFn runs r.fn in tx, turning a panic into a result.
func runFn(r *writeReq, tx *sql.Tx) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panic: p}
		}
	}()
	return writeResult{err: r.fn(context.WithoutCancel(r.ctx), tx)}
}
