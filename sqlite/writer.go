package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate"
)

// maxBatch is the most write requests committed in one transaction.
const maxBatch = 256

// writeGather is how long the writer waits at most for more writes (as
// many as the last batch held, or as its charges' requests in flight)
// before it commits a batch, when the batch before held more than one (the
// process is under load): it trades up to this much latency of a write for
// fewer, larger transactions, whose statements write the charges of many
// requests at once (writeCharges). A lone write on an idle process waits
// for nothing.
const writeGather = time.Millisecond

// errWriteClosed is the error of a write on a closed DB.
var errWriteClosed = errors.New("sqlite: write: database closed")

// writeReq is one call of write or RecordGeneration, queued for the
// writer goroutine.
type writeReq struct {
	ctx    context.Context
	fn     func(ctx context.Context, tx *sql.Tx) error // write's
	charge *keygate.Charge                             // RecordGeneration's, when fn is nil
	res    writeResult                                 // set by the writer
	ok     bool                                        // its writes succeeded and await the commit
	done   chan writeResult                            // buffered, one result
}

type writeResult struct {
	err     error
	panic   any                    // a panic of fn, raised again in the caller
	charged bool                   // the charge's generation was new
	sums    []keygate.UsageCounter // its counters' sums after the charge
}

// inFlight is r's charge's keygate.Charge.InFlight, 0 for a write.
func (r *writeReq) inFlight() int {
	if r.charge == nil {
		return 0
	}
	return r.charge.InFlight
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
	_, err := db.queue(ctx, &writeReq{ctx: ctx, fn: fn})
	return err
}

// queue hands r to the writer goroutine and returns its result once the
// transaction that holds it has committed (or failed).
func (db *DB) queue(ctx context.Context, r *writeReq) (writeResult, error) {
	if db.writer == nil {
		return writeResult{}, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return writeResult{}, err
	}
	r.done = make(chan writeResult, 1)
	select {
	case db.writes <- r:
	case <-db.closed:
		return writeResult{}, errWriteClosed
	case <-ctx.Done():
		return writeResult{}, ctx.Err()
	}
	// Once queued, the request is answered: the caller waits for the
	// commit even if ctx ends, so that an error never hides a write.
	res := <-r.done
	if res.panic != nil {
		panic(res.panic)
	}
	return res, res.err
}

// runWriter is the writer goroutine: it takes the queued writes in
// batches and commits each batch in one transaction, until db closes.
func (db *DB) runWriter() {
	defer close(db.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	// Timers of Go 1.23 on: Reset and Stop leave no stale tick behind.
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	last := 0 // the size of the last batch
	// The charge journal's: its charges commit journalDelay after the
	// first of them at the latest, and before any other write.
	var kick <-chan struct{}
	if db.journal != nil {
		kick = db.journal.kick
	}
	journalTimer := time.NewTimer(time.Hour)
	journalTimer.Stop()
	var flushJournal <-chan time.Time
	// commitJournal commits the journal's charges and sets the timer of
	// the next try if that failed.
	commitJournal := func() {
		if db.journal == nil {
			return
		}
		if db.commitJournal() {
			journalTimer.Stop()
			flushJournal = nil
		} else {
			journalTimer.Reset(db.journalDelay)
			flushJournal = journalTimer.C
		}
	}
	for {
		select {
		case r := <-db.writes:
			batch = append(batch[:0], r)
		case <-kick:
			if !db.journal.full() {
				if flushJournal == nil {
					journalTimer.Reset(db.journalDelay)
					flushJournal = journalTimer.C
				}
				continue
			}
			batch = batch[:0]
		case <-flushJournal:
			batch = batch[:0]
		case <-db.closed:
			db.commitJournal()
			return
		}
		if len(batch) == 0 {
			commitJournal()
			continue
		}
		// Under load (the last batch held more than one), wait for as
		// many as the last batch held, or for charges as many as the
		// requests in flight when they came (keygate.Charge.InFlight: in
		// a steady load most of them are on their way here), until
		// writeGather has passed. A steady load fills its batches at
		// once, and one that fell waits once.
		var deadline <-chan time.Time // nil: take only what is queued
		if last > 1 {
			gather.Reset(writeGather)
			deadline = gather.C
		}
		want := max(last, batch[0].inFlight())
		for len(batch) < maxBatch {
			select {
			case r := <-db.writes:
				batch = append(batch, r)
				want = max(want, r.inFlight())
				continue
			default:
			}
			if deadline == nil || len(batch) >= want {
				break
			}
			select {
			case r := <-db.writes:
				batch = append(batch, r)
				want = max(want, r.inFlight())
			case <-deadline:
				deadline = nil
			}
		}
		gather.Stop()
		last = len(batch)
		// Every charge journaled before a write of the batch was queued
		// commits before it: Flush's empty write returns after them, and
		// a key's deletion comes after its charges.
		commitJournal()
		db.commitBatch(batch)
		clear(batch)
	}
}

// commitJournal commits the charges waiting in the journal in one
// transaction, and reports whether none waits any longer. A batch that
// fails stays in the journal and is tried again with the next.
func (db *DB) commitJournal() bool {
	if db.journal == nil {
		return true
	}
	charges, upTo := db.journal.take()
	if len(charges) == 0 {
		return true
	}
	reqs, err := db.writeJournaled(context.Background(), charges)
	if err != nil {
		db.journal.failed(charges, err)
		return false
	}
	db.journal.committed(reqs, time.Now())
	db.journal.removeBefore(upTo) // outside the journal's lock
	return true
}

// commitBatch runs batch in one write transaction and answers each
// request: the functions of write in their order, each in a savepoint,
// then every charge of RecordGeneration together (writeCharges).
func (db *DB) commitBatch(batch []*writeReq) {
	for _, r := range batch {
		r.res, r.ok = writeResult{}, false
	}
	if !slices.ContainsFunc(batch, func(r *writeReq) bool { return r.fn != nil }) {
		db.commitCharges(batch)
		return
	}
	tx, err := db.writer.BeginTx(context.Background(), nil)
	if err != nil {
		fail(batch, err)
		db.answer(batch, nil)
		return
	}
	// A single request needs no savepoint: its failure rolls back the
	// whole transaction.
	if len(batch) == 1 {
		if db.run(tx, batch); !batch[0].ok {
			tx.Rollback()
			db.answer(batch, nil)
			return
		}
		db.answer(batch, db.commit(tx))
		return
	}
	var charges []*writeReq
	for _, r := range batch {
		switch {
		case r.ctx.Err() != nil:
			r.res.err = r.ctx.Err()
		case r.fn == nil:
			charges = append(charges, r)
		default:
			if err := db.inSavepoint(tx, []*writeReq{r}); err != nil {
				db.failBatch(tx, batch, err)
				return
			}
		}
	}
	if len(charges) > 0 {
		if err := db.inSavepoint(tx, charges); err != nil {
			db.failBatch(tx, batch, err)
			return
		}
		if len(charges) > 1 && !charges[0].ok {
			// One charge the database refused fails alone.
			for _, r := range charges {
				if err := db.inSavepoint(tx, []*writeReq{r}); err != nil {
					db.failBatch(tx, batch, err)
					return
				}
			}
		}
	}
	db.answer(batch, db.commit(tx))
}

// commitCharges commits batch, charges only, in one transaction without
// savepoints (their statement journal is most of a savepoint's cost). If
// the database refuses the batch, each charge is committed on its own, so
// that one charge it refuses fails alone.
func (db *DB) commitCharges(batch []*writeReq) {
	live := make([]*writeReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil && len(batch) > 1 {
			r.res.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		db.answer(batch, nil)
		return
	}
	tx, err := db.writer.BeginTx(context.Background(), nil)
	if err != nil {
		fail(live, err)
		db.answer(batch, nil)
		return
	}
	if db.run(tx, live); live[0].ok {
		db.answer(batch, db.commit(tx))
		return
	}
	tx.Rollback()
	if len(live) == 1 {
		db.answer(batch, nil)
		return
	}
	for _, r := range batch {
		if !slices.Contains(live, r) {
			db.answer([]*writeReq{r}, nil) // its context ended before its turn
			continue
		}
		db.commitCharges([]*writeReq{r})
	}
}

// inSavepoint runs reqs (one function, or charges) in tx inside a
// savepoint that is rolled back if they fail. Its error is one that ends
// the whole batch: SQLite has rolled the transaction back (it may, on an
// I/O error or a full disk), and the savepoint's statements fail.
func (db *DB) inSavepoint(tx *sql.Tx, reqs []*writeReq) error {
	sp := func(st *sql.Stmt) error {
		_, err := tx.StmtContext(context.Background(), st).Exec()
		return err
	}
	if err := sp(db.st.savepoint); err != nil {
		return err
	}
	if db.run(tx, reqs); reqs[0].ok {
		return sp(db.st.release)
	}
	if err := sp(db.st.rollbackTo); err != nil {
		return err
	}
	return sp(db.st.release)
}

// run runs reqs (one function, or charges) in tx, and sets their results
// and ok.
func (db *DB) run(tx *sql.Tx, reqs []*writeReq) {
	var res writeResult
	if reqs[0].fn != nil {
		res = runFn(reqs[0], tx)
	} else if err := db.writeCharges(tx, reqs); err != nil {
		res.err = err
	} else {
		for _, r := range reqs {
			r.ok = true
		}
		return
	}
	for _, r := range reqs {
		r.res = res
	}
	reqs[0].ok = reqs[0].fn != nil && res.err == nil && res.panic == nil
}

// fail sets err as the result of every request of reqs: nothing of theirs
// was written.
func fail(reqs []*writeReq, err error) {
	for _, r := range reqs {
		r.res, r.ok = writeResult{err: err}, false
	}
}

// answer answers every request of batch; commitErr is the error of those
// whose writes awaited the commit.
func (db *DB) answer(batch []*writeReq, commitErr error) {
	for _, r := range batch {
		res := r.res
		if r.ok && commitErr != nil {
			res = writeResult{err: commitErr}
		}
		r.done <- res
	}
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
func (db *DB) failBatch(tx *sql.Tx, batch []*writeReq, err error) {
	tx.Rollback()
	err = fmt.Errorf("write batch: %w", err)
	for _, r := range batch {
		if r.ok || (r.res.err == nil && r.res.panic == nil) {
			r.res = writeResult{err: err}
		}
		r.ok = false
	}
	db.answer(batch, nil)
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
