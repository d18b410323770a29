package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keygate/keygate"
)

// The charge journal (docs/spending.md, "SQLite: the charge journal").
//
// A charge is acknowledged once its record is in the journal, a file
// beside the database, not once it has committed: RecordGeneration appends
// the record (one write system call, in the operating system's hands when
// it returns, as a WAL commit with synchronous=NORMAL is) and returns, and
// the writer goroutine commits the journaled charges in batches, every
// journalDelay or every journalBatch charges, whichever comes first. A
// process killed before the batch committed loses nothing: the next Open
// of the file commits every record of the journal before it serves
// (replay). A generation's id is the gate there as everywhere: a record
// whose charge committed before the kill charges nothing again.
//
// Until its batch commits, a journaled charge is in memory too, so that
// reads made after RecordGeneration returned see it: its generation
// (Generation, KeyGenerations) and its counters (UsageCounters,
// KeyWithUsage), whose sums the journal keeps for every counter charged
// lately (the mirror). Reads of the rollups wait for the journaled charges
// to commit (Flush).
//
// The journal is a directory, <file>-charges, of segment files named by
// number. Each batch the writer takes starts a new segment, and the
// segments before it are removed once the batch has committed. One process
// at a time keeps a file's journal: the one holding the lock on
// <file>-charges/lock. Another process on the same file (a CLI command
// while the server runs) commits each of its charges before
// RecordGeneration returns, through the writer's group commit.

const (
	// journalDelay is how long a journaled charge waits at most for its
	// batch's commit.
	journalDelay = 50 * time.Millisecond
	// journalBatch is how many journaled charges start a commit at once.
	journalBatch = 4096
	// journalMax is how many journaled charges may wait for their commit
	// at most: beyond it (the database refuses the batches, say, or the
	// disk is full) RecordGeneration fails instead of journaling more.
	journalMax = 1 << 17
	// mirrorEvictEvery is how often the mirror drops the counters that
	// no waiting charge holds and no charge of the last two batches
	// added to.
	mirrorEvictEvery = 10 * time.Second
)

// errJournalFull is RecordGeneration's error while journalMax charges wait.
var errJournalFull = errors.New("the charge journal is full: charges are not being committed")

// recordHeader is the size of a record's header: the payload's length
// and its CRC-32C, little-endian uint32s.
const recordHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journal is a DB's charge journal.
type journal struct {
	dir  string
	lock *os.File // holds the lock for the life of the journal

	kick chan struct{} // capacity 1: charges wait for the writer
	max  int           // journalMax, but in tests

	mu      sync.Mutex
	f       *os.File // the segment records are appended to
	seg     int64    // its number
	size    int64    // its length
	broken  error    // set when no record may be appended
	pending []*keygate.Charge
	// ids holds the generations journaled and not yet committed, those
	// being committed included.
	ids map[string]*keygate.Generation
	// mirror holds the sums of the counters charged lately (see
	// mirrored).
	mirror map[keygate.UsageCounter]*mirrored
	// epoch counts the batches committed: a RecordGeneration that read
	// the database across one reads again.
	epoch     uint64
	evictedAt time.Time
	err       error // the last batch's error, nil once one commits
}

// mirrored is the sums of a counter: what the database holds plus the
// charges journaled and not yet committed (the pending part of it).
type mirrored struct {
	sum, pending keygate.UsageCounter
	charges      int    // pending charges of this counter
	epoch        uint64 // the epoch of its last charge
}

// openJournal opens the journal of the database at path, and commits
// what a killed process left in it (replay). It returns nil and no error
// when another process keeps the journal.
func (db *DB) openJournal(ctx context.Context) (*journal, error) {
	dir := db.path + "-charges"
	lock, err := lockJournal(dir)
	if lock == nil || err != nil {
		return nil, err
	}
	j := &journal{
		dir: dir, lock: lock, kick: make(chan struct{}, 1),
		ids: make(map[string]*keygate.Generation), mirror: make(map[keygate.UsageCounter]*mirrored),
	}
	segs, err := j.segments()
	if err == nil {
		err = db.replay(ctx, j, segs)
	}
	if err == nil {
		if len(segs) > 0 {
			j.seg = segs[len(segs)-1]
		}
		err = j.rotate()
	}
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("sqlite: charge journal: %w", err)
	}
	return j, nil
}

// lockJournal takes the lock of the journal in dir, making dir if need
// be: nil and no error when another process holds it. The lock file is
// removed when the journal closes empty (close), so a lock taken on a file
// that is no longer the one at its path (removed meanwhile by the process
// that held it) is let go, and taken again.
func lockJournal(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	for range 10 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: charge journal: %w", err)
		}
		lock, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if errors.Is(err, os.ErrNotExist) {
			continue // dir was removed before the file could be made
		} else if err != nil {
			return nil, fmt.Errorf("sqlite: charge journal: %w", err)
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, fmt.Errorf("sqlite: charge journal: lock: %w", err)
		}
		held, err1 := lock.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return lock, nil
		}
		lock.Close()
	}
	return nil, errors.New("sqlite: charge journal: the lock file keeps being removed")
}

// segments returns the numbers of the journal's segment files, in order.
func (j *journal) segments() ([]int64, error) {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, err
	}
	var segs []int64
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if seg, err := strconv.ParseInt(n, 10, 64); err == nil {
				segs = append(segs, seg)
			}
		}
	}
	slices.Sort(segs)
	return segs, nil
}

func (j *journal) segmentPath(seg int64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%020d.log", seg))
}

// rotate starts a new segment. Called with j.mu held, or before the
// journal is shared.
func (j *journal) rotate() error {
	f, err := os.OpenFile(j.segmentPath(j.seg+1), os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.seg, j.size = f, j.seg+1, 0
	return nil
}

// removeBefore removes the segments numbered below seg.
func (j *journal) removeBefore(seg int64) {
	segs, _ := j.segments()
	for _, s := range segs {
		if s < seg {
			os.Remove(j.segmentPath(s))
		}
	}
}

// close closes the journal's files and gives up its lock. The segments
// stay when charges are left in them.
func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if len(j.pending) == 0 {
		// Nothing left: no file either, while the lock is held.
		j.removeBefore(j.seg + 1)
		os.Remove(j.lock.Name())
		os.Remove(j.dir)
	}
	j.lock.Close()
}

// replay commits the charges of segs, in batches of journalBatch, and
// removes the segments. A record cut short (the process was killed while
// writing it; its RecordGeneration never returned) ends its segment.
func (db *DB) replay(ctx context.Context, j *journal, segs []int64) error {
	var charges []*keygate.Charge
	flush := func() error {
		if len(charges) == 0 {
			return nil
		}
		if _, err := db.writeJournaled(ctx, charges); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		charges = charges[:0]
		return nil
	}
	for _, seg := range segs {
		b, err := os.ReadFile(j.segmentPath(seg))
		if err != nil {
			return err
		}
		for off := 0; off < len(b); {
			c, n, err := readRecord(b[off:])
			if err != nil {
				return fmt.Errorf("segment %s, at byte %d of %d: %w: the acknowledged charges after it cannot be read; "+
					"move the segment out of %s to open the database without them",
					filepath.Base(j.segmentPath(seg)), off, len(b), err, j.dir)
			}
			if c == nil {
				break // a record cut short: its RecordGeneration never returned
			}
			off += n
			if charges = append(charges, c); len(charges) >= journalBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, seg := range segs {
		if err := os.Remove(j.segmentPath(seg)); err != nil {
			return err
		}
	}
	return nil
}

// appendRecord appends c's record to b: its payload's length and CRC-32C
// (little-endian uint32s), then the payload (encodeCharge).
func appendRecord(b []byte, c *keygate.Charge) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, recordHeader)...)
	b = encodeCharge(b, c)
	payload := b[start+recordHeader:]
	if len(payload) > maxRecord {
		return b[:start], errors.New("a charge whose record is longer than 16 MiB")
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b, nil
}

// maxRecord is the longest payload a record may have.
const maxRecord = 1 << 24

// readRecord reads the record at the start of b and returns it and its
// length. A record cut short (the process died writing it), or followed
// by nothing but zero bytes (the file grew and the data never came: a
// power loss), is the segment's end: nil and no error. A record that is
// damaged and not the end is errRecord: the records after it would be
// lost if it were skipped, so the replay stops there.
func readRecord(b []byte) (*keygate.Charge, int, error) {
	if len(b) < recordHeader {
		return nil, 0, nil
	}
	n := binary.LittleEndian.Uint32(b[:4])
	if n > maxRecord {
		return nil, 0, tailOr(b)
	}
	end := recordHeader + int(n)
	if end > len(b) {
		return nil, 0, nil
	}
	payload := b[recordHeader:end]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, tailOr(b)
	}
	c, err := decodeCharge(payload)
	if err != nil {
		return nil, 0, tailOr(b)
	}
	return c, end, nil
}

// tailOr returns nil when b, a segment's rest from a record that does not
// read, is zero bytes only, else errRecord.
func tailOr(b []byte) error {
	for _, c := range b {
		if c != 0 {
			return errRecord
		}
	}
	return nil
}

// writeJournaled commits journaled charges in one transaction
// (writeCharges; nobody waits for their answer), and returns their
// requests with each one's result.
func (db *DB) writeJournaled(ctx context.Context, charges []*keygate.Charge) ([]*writeReq, error) {
	reqs := make([]*writeReq, len(charges))
	for i, c := range charges {
		reqs[i] = &writeReq{ctx: ctx, charge: c}
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := db.writeCharges(tx, reqs); err != nil {
		tx.Rollback()
		return nil, err
	}
	return reqs, db.commit(tx)
}

// journalCharge is RecordGeneration with a journal: c is acknowledged once
// its record is appended (see journal). The sums it returns are the
// mirror's. The database is read for the sums the mirror lacks and, unless
// c.NewID, for whether the id is taken; a charge with neither to read
// reads nothing.
func (db *DB) journalCharge(ctx context.Context, c *keygate.Charge) (bool, []keygate.UsageCounter, error) {
	j := db.journal
	select {
	case <-db.closed:
		return false, nil, errWriteClosed
	default:
	}
	// Room for the record in one allocation: a counter takes some 80
	// bytes (a key hash, a period, three numbers), the rest a few hundred.
	rec, err := appendRecord(make([]byte, 0, 512+96*len(c.Counters)), c)
	if err != nil {
		return false, nil, err
	}
	id := c.Generation.ID
	for {
		// What the database must say: whether the id is taken, and the
		// sums of the counters the mirror lacks. Read outside the lock;
		// a batch committed meanwhile (the epoch moved) may have changed
		// both, and then they are read again.
		j.mu.Lock()
		if _, dup := j.ids[id]; dup {
			j.mu.Unlock()
			return false, nil, nil
		}
		epoch := j.epoch
		var missing []keygate.UsageCounter
		for _, add := range c.Counters {
			if ref := counterRef(add); j.mirror[ref] == nil && !slices.Contains(missing, ref) {
				missing = append(missing, ref)
			}
		}
		if c.NewID && len(missing) == 0 {
			// Nothing to read: an id made for this charge is stored
			// nowhere, and the mirror has every sum.
			charged, sums, err := j.add(c, rec, nil)
			j.mu.Unlock()
			return charged, sums, err
		}
		j.mu.Unlock()

		if !c.NewID {
			taken, err := db.generationStored(ctx, id)
			if err != nil {
				return false, nil, err
			}
			if taken {
				return false, nil, nil
			}
		}
		stored, err := db.storedCountersOf(ctx, missing)
		if err != nil {
			return false, nil, err
		}

		j.mu.Lock()
		if j.epoch != epoch {
			j.mu.Unlock()
			continue
		}
		charged, sums, err := j.add(c, rec, stored)
		j.mu.Unlock()
		return charged, sums, err
	}
}

// add journals c (its record rec), the counters the mirror lacked having
// the stored sums in stored, and returns c's counters' sums after it.
// Called with j.mu held.
func (j *journal) add(c *keygate.Charge, rec []byte, stored map[keygate.UsageCounter]keygate.UsageCounter) (bool, []keygate.UsageCounter, error) {
	if _, dup := j.ids[c.Generation.ID]; dup {
		return false, nil, nil
	}
	if len(j.ids) >= j.max {
		return false, nil, errJournalFull
	}
	if j.broken != nil {
		return false, nil, j.broken
	}
	if _, err := j.f.Write(rec); err != nil {
		// Part of the record may be in the segment: it is cut off, or the
		// records that follow go to a new segment, so that no record is
		// ever written after a damaged one (replay stops at those).
		if terr := j.f.Truncate(j.size); terr != nil {
			if rerr := j.rotate(); rerr != nil {
				j.broken = fmt.Errorf("charge journal: a segment holds part of a record and no new one can be made: %w", rerr)
			}
		}
		return false, nil, fmt.Errorf("charge journal: %w", err)
	}
	j.size += int64(len(rec))
	// As the database would return it: times to the microsecond, UTC.
	g := *c.Generation
	g.CreatedAt = fromMicros(micros(g.CreatedAt))
	g.Latency = g.Latency.Truncate(time.Microsecond)
	g.GenerationTime = g.GenerationTime.Truncate(time.Microsecond)
	j.ids[g.ID] = &g
	j.pending = append(j.pending, c)
	refs := make([]*mirrored, len(c.Counters))
	for i, add := range c.Counters {
		ref := counterRef(add)
		m := j.mirror[ref]
		if m == nil {
			m = &mirrored{sum: ref, pending: ref}
			if s, ok := stored[ref]; ok {
				m.sum.Micros, m.sum.BYOKMicros = s.Micros, s.BYOKMicros
			}
			j.mirror[ref] = m
		}
		m.sum.Micros += add.Micros
		m.sum.BYOKMicros += add.BYOKMicros
		m.pending.Micros += add.Micros
		m.pending.BYOKMicros += add.BYOKMicros
		m.charges++
		m.epoch = j.epoch
		refs[i] = m
	}
	// After every addition: a counter listed twice adds twice.
	sums := make([]keygate.UsageCounter, len(refs))
	for i, m := range refs {
		sums[i] = m.sum
	}
	if n := len(j.pending); n == 1 || n == journalBatch {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return true, sums, nil
}

// take hands the pending charges to the writer, and starts a new segment
// for those that come next: once they have committed, the segments before
// the new one hold nothing else (every charge in them is committed or in
// the batch), and committed removes them.
func (j *journal) take() (charges []*keygate.Charge, upTo int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) == 0 {
		return nil, 0
	}
	charges, j.pending = j.pending, nil
	// If no new segment can be made, the current one stays (upTo is its
	// number): its committed records are replayed for nothing if the
	// process dies, and it is removed after a later batch.
	j.rotate()
	return charges, j.seg
}

// full reports whether journalBatch charges or more wait.
func (j *journal) full() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending) >= journalBatch
}

// committed ends the pending life of reqs, which committed (their segments,
// those before upTo, are removed by the caller): their ids and
// their part of the mirror's pending sums go. The sums of the counters a
// new generation of reqs added are set from what the database returned
// (writeCharges), plus what is still pending: so that charges another
// process wrote to the file are seen.
func (j *journal) committed(reqs []*writeReq, now time.Time) {
	stored := make(map[keygate.UsageCounter]keygate.UsageCounter)
	for _, r := range reqs {
		for _, s := range r.res.sums {
			stored[counterRef(s)] = s
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range reqs {
		delete(j.ids, r.charge.Generation.ID)
		for _, add := range r.charge.Counters {
			m := j.mirror[counterRef(add)]
			if m == nil {
				continue
			}
			m.pending.Micros -= add.Micros
			m.pending.BYOKMicros -= add.BYOKMicros
			m.charges--
			if !r.res.charged {
				// Its id was stored already: it added nothing.
				m.sum.Micros -= add.Micros
				m.sum.BYOKMicros -= add.BYOKMicros
			}
		}
	}
	for ref, s := range stored {
		if m := j.mirror[ref]; m != nil {
			m.sum.Micros = s.Micros + m.pending.Micros
			m.sum.BYOKMicros = s.BYOKMicros + m.pending.BYOKMicros
		}
	}
	j.epoch++
	j.err = nil
	if now.Sub(j.evictedAt) >= mirrorEvictEvery {
		j.evictedAt = now
		maps.DeleteFunc(j.mirror, func(_ keygate.UsageCounter, m *mirrored) bool {
			return m.charges == 0 && j.epoch-m.epoch > 1
		})
	}
}

// failed puts charges, whose batch did not commit, back before the
// pending ones, to be committed with the next batch.
func (j *journal) failed(charges []*keygate.Charge, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(charges, j.pending...)
	j.err = err
}

// forget drops the mirror's sums of the counters of hash, whose rows were
// deleted: they are read from the database again. Called once the delete
// has committed. A counter with pending charges keeps only those.
func (j *journal) forget(hash string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for ref, m := range j.mirror {
		if ref.KeyHash != hash {
			continue
		}
		if m.charges == 0 {
			delete(j.mirror, ref)
		} else {
			m.sum.Micros, m.sum.BYOKMicros = m.pending.Micros, m.pending.BYOKMicros
		}
	}
	j.epoch++ // a RecordGeneration that read the deleted rows reads again
}

// lastErr returns the error of the last batch, nil once one committed.
func (j *journal) lastErr() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return fmt.Errorf("charge journal: %w", j.err)
	}
	return nil
}

// waiting reports whether journaled charges wait for their commit.
func (j *journal) waiting() bool {
	if j == nil {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.ids) > 0
}

// sumsOf returns the mirror's sums of the counters of refs it holds.
func (j *journal) sumsOf(refs []keygate.UsageCounter) map[keygate.UsageCounter]keygate.UsageCounter {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var out map[keygate.UsageCounter]keygate.UsageCounter
	for _, ref := range refs {
		if m := j.mirror[counterRef(ref)]; m != nil {
			if out == nil {
				out = make(map[keygate.UsageCounter]keygate.UsageCounter, len(refs))
			}
			out[counterRef(ref)] = m.sum
		}
	}
	return out
}

// generation returns the journaled generation id, nil if there is none.
func (j *journal) generation(id string) *keygate.Generation {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if g := j.ids[id]; g != nil {
		c := *g
		return &c
	}
	return nil
}

// keyGenerations returns the journaled generations of keyHash.
func (j *journal) keyGenerations(keyHash string) []*keygate.Generation {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*keygate.Generation
	for _, g := range j.ids {
		if g.KeyHash == keyHash {
			c := *g
			out = append(out, &c)
		}
	}
	return out
}

// Flush returns once every charge journaled before the call has
// committed (at once when none waits): the reads of what the journal does
// not hold in memory (the rollups, the all-time sums of every key of an
// app) call it first, and so may a tool about to read the file.
func (db *DB) Flush(ctx context.Context) error {
	if !db.journal.waiting() {
		return nil
	}
	// Every batch of the writer commits the journaled charges first; its
	// error, if that failed, is this write's.
	return db.write(ctx, func(context.Context, *sql.Tx) error { return db.journal.lastErr() })
}
