package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var journalT0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// testJournalCharge is a charge of cost to key and its parent, with the app
// and user rollups, as the service makes it.
func testJournalCharge(id, key string, cost keygate.Micros) *keygate.Charge {
	p := keygate.PeriodsAt(journalT0)
	var add []keygate.UsageCounter
	for _, h := range []string{key, "key-parent"} {
		for _, c := range keygate.Counters(h, p) {
			c.Micros = cost
			add = append(add, c)
		}
	}
	app := int64(7)
	g := &keygate.Generation{ID: id, KeyHash: key, UserID: "user-1", WorkspaceID: "ws-1", AppID: &app,
		Model: "m", PromptTokens: 3, CompletionTokens: 5, Cost: cost, Latency: 1500 * time.Nanosecond, CreatedAt: journalT0}
	c := &keygate.Charge{Generation: g, Counters: add}
	c.AppDay, c.UserDay = keygate.RollupsOf(g)
	return c
}

// openJournaled opens the database at path with the journal, its charges
// committing after delay (an hour: only when something waits for them).
func openJournaled(t *testing.T, path string, delay time.Duration) *DB {
	t.Helper()
	db, err := Open(t.Context(), path, func(o *options) { o.journalDelay = delay })
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if db.journal == nil {
		t.Fatal("Open kept no charge journal")
	}
	return db
}

// storedCount counts the rows of query (a SELECT count(*)) in the file.
func storedCount(t *testing.T, db *DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.reader.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestJournalReads: a journaled charge that has not committed is seen, as
// soon as RecordGeneration returns, by every read of its usage and its
// generation; the rollups' reads wait for its commit; a second charge of
// its id charges nothing, before and after the commit.
func TestJournalReads(t *testing.T) {
	db := openJournaled(t, filepath.Join(t.TempDir(), "keygate.db"), time.Hour)
	defer db.Close()
	ctx := t.Context()
	p := keygate.PeriodsAt(journalT0)
	for i, cost := range []keygate.Micros{1_000, 234} {
		charged, sums, err := db.RecordGeneration(ctx, testJournalCharge(fmt.Sprintf("gen-%d", i), "key-a", cost))
		if err != nil || !charged {
			t.Fatalf("RecordGeneration = %v, %v", charged, err)
		}
		for _, s := range sums {
			if want := keygate.Micros(1_000 + 234*i); s.Micros != want {
				t.Errorf("charge %d: sum %s %s = %d, want %d", i, s.KeyHash, s.Period, s.Micros, want)
			}
		}
	}
	if n := storedCount(t, db, `SELECT count(*) FROM generations`); n != 0 {
		t.Fatalf("%d generations committed before anything waited for them, want 0", n)
	}
	want := keygate.Counters("key-parent", p)
	got, err := db.UsageCounters(ctx, "key-parent", want[:])
	if err != nil {
		t.Fatal(err)
	}
	if u := keygate.FoldUsage(p, got); u.Total != 1_234 || u.Daily != 1_234 || u.Weekly != 1_234 || u.Monthly != 1_234 {
		t.Errorf("UsageCounters(parent) = %+v, want 1,234 µ$ in each", u)
	}
	g, err := db.Generation(ctx, "gen-1")
	if err != nil || g.Cost != 234 || g.Latency != time.Microsecond || !g.CreatedAt.Equal(journalT0) {
		t.Errorf("Generation(gen-1) = %+v, %v; want cost 234, latency 1µs", g, err)
	}
	gens, err := db.KeyGenerations(ctx, "key-a", 5)
	if err != nil || len(gens) != 2 || gens[0].ID != "gen-1" || gens[1].ID != "gen-0" {
		t.Errorf("KeyGenerations = %d, %v; want gen-1, gen-0", len(gens), err)
	}
	if charged, _, err := db.RecordGeneration(ctx, testJournalCharge("gen-1", "key-a", 99)); err != nil || charged {
		t.Errorf("RecordGeneration(gen-1 again, journaled) = %v, %v; want not charged", charged, err)
	}

	// The rollups' reads wait for the journal's charges to commit.
	days, err := db.UserDays(ctx, "user-1", journalT0.Truncate(24*time.Hour), journalT0.Add(24*time.Hour))
	if err != nil || len(days) != 1 || days[0].Requests != 2 || days[0].Micros != 1_234 {
		t.Errorf("UserDays = %+v, %v; want one row of 2 requests, 1,234 µ$", days, err)
	}
	if n := storedCount(t, db, `SELECT count(*) FROM generations`); n != 2 {
		t.Errorf("%d generations committed after a rollup read, want 2", n)
	}
	if n := storedCount(t, db, `SELECT micros FROM usage_counters WHERE key_hash = 'key-parent' AND period = 'total'`); n != 1_234 {
		t.Errorf("stored parent total = %d, want 1,234", n)
	}
	if charged, _, err := db.RecordGeneration(ctx, testJournalCharge("gen-0", "key-a", 99)); err != nil || charged {
		t.Errorf("RecordGeneration(gen-0 again, committed) = %v, %v; want not charged", charged, err)
	}
	got, err = db.UsageCounters(ctx, "key-parent", want[:])
	if u := keygate.FoldUsage(p, got); err != nil || u.Total != 1_234 {
		t.Errorf("UsageCounters(parent) after the commit = %+v, %v; want 1,234 µ$", u, err)
	}
}

// TestJournalReplay: the charges a process journaled and never committed
// (it was killed) are committed by the next Open of the file, exactly
// once: a record whose charge had committed charges nothing again, and a
// record cut short (the process died writing it) is ignored.
func TestJournalReplay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keygate.db")
	db := openJournaled(t, path, time.Hour)
	ctx := t.Context()
	var total keygate.Micros
	for i := range 40 {
		cost := keygate.Micros(1_000 + i)
		total += cost
		c := testJournalCharge(fmt.Sprintf("gen-%d", i), "key-a", cost)
		c.NewID = i%2 == 0 // journaled without a read of the id
		if ok, _, err := db.RecordGeneration(ctx, c); err != nil || !ok {
			t.Fatalf("RecordGeneration = %v, %v", ok, err)
		}
		if i == 9 {
			// The first ten commit; their records are written again
			// below, as a process killed between a batch's commit and
			// the removal of its segment leaves them.
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A copy of the file and its journal as they are now: what a kill
	// would leave. Nothing writes to the file meanwhile.
	crash := filepath.Join(t.TempDir(), "keygate.db")
	copyFile(t, path, crash)
	copyFile(t, path+"-wal", crash+"-wal")
	if err := os.Mkdir(crash+"-charges", 0o700); err != nil {
		t.Fatal(err)
	}
	segs, err := db.journal.segments()
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments = %v, %v; want the journal's", segs, err)
	}
	for _, s := range segs {
		copyFile(t, db.journal.segmentPath(s), filepath.Join(crash+"-charges", filepath.Base(db.journal.segmentPath(s))))
	}
	var again []byte
	for i := range 10 {
		// Said to be new, which the replay does not trust.
		c := testJournalCharge(fmt.Sprintf("gen-%d", i), "key-a", 5)
		c.NewID = true
		if again, err = appendRecord(again, c); err != nil {
			t.Fatal(err)
		}
	}
	cut, err := appendRecord(nil, testJournalCharge("gen-cut", "key-a", 777))
	if err != nil {
		t.Fatal(err)
	}
	again = append(again, cut[:len(cut)-3]...)
	if err := os.WriteFile(filepath.Join(crash+"-charges", fmt.Sprintf("%020d.log", segs[len(segs)-1]+1)), again, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	re := openJournaled(t, crash, time.Hour)
	defer re.Close()
	if n := storedCount(t, re, `SELECT count(*) FROM generations`); n != 40 {
		t.Errorf("%d generations after the replay, want 40", n)
	}
	if n := storedCount(t, re, `SELECT count(*) FROM generations WHERE id = 'gen-cut'`); n != 0 {
		t.Error("the record cut short was charged")
	}
	for _, h := range []string{"key-a", "key-parent"} {
		if n := storedCount(t, re, `SELECT micros FROM usage_counters WHERE key_hash = ? AND period = 'total'`, h); n != int64(total) {
			t.Errorf("stored total of %s after the replay = %d µ$, want %d", h, n, total)
		}
	}
	if n := storedCount(t, re, `SELECT requests FROM user_usage_daily WHERE user_id = 'user-1'`); n != 40 {
		t.Errorf("user rollup after the replay: %d requests, want 40", n)
	}
	if segs, err := re.journal.segments(); err != nil || len(segs) != 1 {
		t.Errorf("segments after the replay = %v, %v; want the new one alone", segs, err)
	}
}

// TestJournalOneProcess: one DB at a time keeps a file's journal; another
// on the same file commits its charges itself, and they count in the
// sums of the one with the journal once it commits.
func TestJournalOneProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	first := openJournaled(t, path, time.Hour)
	second, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if second.journal != nil {
		t.Fatal("a second DB on the file keeps a journal too")
	}
	ctx := t.Context()
	if _, _, err := first.RecordGeneration(ctx, testJournalCharge("gen-1", "key-a", 100)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := second.RecordGeneration(ctx, testJournalCharge("gen-2", "key-a", 20)); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, second, `SELECT count(*) FROM generations`); n != 1 {
		t.Errorf("%d generations stored, want 1: the second DB's, committed before it returned", n)
	}
	if _, sums, err := first.RecordGeneration(ctx, testJournalCharge("gen-3", "key-a", 3)); err != nil || sums[0].Micros != 103 {
		t.Fatalf("RecordGeneration = %v, %v; want the journal's sum, 103", sums, err)
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The commit returned the stored sum, the other DB's charge in it.
	if _, sums, err := first.RecordGeneration(ctx, testJournalCharge("gen-4", "key-a", 4)); err != nil || sums[0].Micros != 127 {
		t.Errorf("RecordGeneration after the commit = %v, %v; want 127", sums, err)
	}
	second.Close()
	first.Close()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "charges") {
			t.Errorf("%s left after both closed with nothing journaled", e.Name())
		}
	}
	third := openJournaled(t, path, time.Hour)
	defer third.Close()
	if n := storedCount(t, third, `SELECT micros FROM usage_counters WHERE key_hash = 'key-a' AND period = 'total'`); n != 127 {
		t.Errorf("stored total = %d, want 127", n)
	}
}

// TestJournalRecord: a record reads back as the charge written; one cut
// short, or followed by zero bytes only, ends its segment; one damaged
// anywhere else does not read, and makes Open fail rather than skip the
// records after it.
func TestJournalRecord(t *testing.T) {
	c := testJournalCharge("gen-1", "key-a", 1_234)
	rec, err := appendRecord(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	two := append(append([]byte(nil), rec...), rec...)
	got, n, err := readRecord(two)
	if err != nil || n != len(rec) || got.Generation.ID != "gen-1" || got.Generation.Cost != 1_234 || *got.Generation.AppID != 7 ||
		!got.Generation.CreatedAt.Equal(journalT0) || len(got.Counters) != 8 || got.UserDay.Micros != 1_234 {
		t.Fatalf("readRecord = %+v, %d, %v", got, n, err)
	}
	for cut := range len(rec) {
		if got, _, err := readRecord(rec[:cut]); got != nil || err != nil {
			t.Errorf("a record cut to %d bytes = %v, %v; want the end", cut, got, err)
		}
	}
	if got, _, err := readRecord(make([]byte, 100)); got != nil || err != nil {
		t.Errorf("zero bytes = %v, %v; want the end", got, err)
	}
	for i := range rec {
		bad := append([]byte(nil), two...)
		bad[i] ^= 0x20
		if got, _, err := readRecord(bad); err == nil && (got != nil || i >= 4) {
			// A changed length may only make the record run past the
			// end, which reads as cut short.
			t.Errorf("a record with byte %d changed = %v, %v; want errRecord", i, got, err)
		}
	}

	// Open refuses a segment with a damaged record before others.
	path := filepath.Join(t.TempDir(), "keygate.db")
	if err := os.Mkdir(path+"-charges", 0o700); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), two...)
	bad[recordHeader+3] ^= 1
	if err := os.WriteFile(filepath.Join(path+"-charges", fmt.Sprintf("%020d.log", 1)), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open over a damaged record = %v; want an error saying the charges after it cannot be read", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestJournalFlushAfterCharges: a charge acknowledged while the writer is
// busy committing (here: waiting for another connection's write lock),
// followed by a rollup read (which calls Flush), is seen by that read:
// the journal is committed before every batch of writes, Flush's included,
// not only before the writer's wait for more writes. (The sleeps only make
// the window likely; a slow machine makes the test pass without it, never
// fail.)
func TestJournalFlushAfterCharges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	db := openJournaled(t, path, time.Hour)
	defer db.Close()
	ctx := t.Context()
	if ok, _, err := db.RecordGeneration(ctx, testJournalCharge("gen-1", "key-a", 100)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// Another connection holds the file's write lock: the writer's next
	// commitJournal waits in BEGIN IMMEDIATE (busy_timeout).
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	w0 := make(chan error, 1)
	go func() { w0 <- db.write(context.Background(), func(context.Context, *sql.Tx) error { return nil }) }()
	time.Sleep(200 * time.Millisecond) // the writer took gen-1 and waits for the lock

	// gen-2 is acknowledged, then the user's rollup is read.
	if ok, _, err := db.RecordGeneration(ctx, testJournalCharge("gen-2", "key-a", 20)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	type res struct {
		reqs int64
		err  error
	}
	days := make(chan res, 1)
	go func() {
		d, err := db.UserDays(context.Background(), "user-1", journalT0.Truncate(24*time.Hour), journalT0.Add(24*time.Hour))
		var n int64
		for _, x := range d {
			n += x.Requests
		}
		days <- res{n, err}
	}()
	time.Sleep(200 * time.Millisecond) // UserDays' Flush is queued
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-w0; err != nil {
		t.Fatal(err)
	}
	r := <-days
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.reqs != 2 {
		t.Errorf("UserDays saw %d requests, want 2: Flush returned before gen-2 committed", r.reqs)
	}
}

// totalOf returns the mirror's or the database's total of key: what
// UsageCounters reads.
func totalOf(t *testing.T, db *DB, key string) keygate.Micros {
	t.Helper()
	cs, err := db.UsageCounters(t.Context(), key, []keygate.UsageCounter{{KeyHash: key, Period: keygate.PeriodTotal, Start: time.Unix(0, 0).UTC()}})
	if err != nil {
		t.Fatal(err)
	}
	var sum keygate.Micros
	for _, c := range cs {
		sum += c.Micros
	}
	return sum
}

// wantCommitted flushes the journal and checks that the file holds
// generations rows and key-a's stored total is total µ$.
func wantCommitted(t *testing.T, db *DB, generations, total int64) {
	t.Helper()
	if err := db.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := storedCount(t, db, `SELECT count(*) FROM generations`); n != generations {
		t.Errorf("%d generations stored, want %d", n, generations)
	}
	if n := storedCount(t, db, `SELECT micros FROM usage_counters WHERE key_hash = 'key-a' AND period = 'total'`); n != total {
		t.Errorf("stored total = %d µ$, want %d", n, total)
	}
}

// TestJournalFull: while journalMax charges wait for their commit, one
// more is refused (errJournalFull) and charges nothing; once they have
// committed it is journaled again, and every total is exact.
func TestJournalFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	db, err := Open(t.Context(), path, func(o *options) { o.journalDelay, o.journalMax = time.Hour, 8 })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	for i := range 8 {
		if ok, _, err := db.RecordGeneration(ctx, testJournalCharge(fmt.Sprintf("gen-%d", i), "key-a", 10)); !ok || err != nil {
			t.Fatalf("charge %d = %v, %v", i, ok, err)
		}
	}
	ok, _, err := db.RecordGeneration(ctx, testJournalCharge("gen-8", "key-a", 10))
	if ok || !errors.Is(err, errJournalFull) {
		t.Fatalf("a charge past journalMax = %v, %v; want errJournalFull", ok, err)
	}
	if got := totalOf(t, db, "key-a"); got != 80 {
		t.Errorf("total with the journal full = %d µ$, want 80: the refused charge adds nothing", got)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := db.RecordGeneration(ctx, testJournalCharge("gen-8", "key-a", 10)); !ok || err != nil {
		t.Fatalf("the charge again once the journal committed = %v, %v", ok, err)
	}
	wantCommitted(t, db, 9, 90)
}

// TestJournalWriteFails: a record whose write fails is refused and
// charges nothing, and the next goes to a new segment; when no segment
// can be made either, every charge is refused (fail closed), and what was
// journaled before still commits.
func TestJournalWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	db := openJournaled(t, path, time.Hour)
	defer db.Close()
	ctx := t.Context()
	record := func(id string) error {
		t.Helper()
		ok, _, err := db.RecordGeneration(ctx, testJournalCharge(id, "key-a", 10))
		if ok != (err == nil) {
			t.Fatalf("charge %s = %v, %v", id, ok, err)
		}
		return err
	}
	if err := record("gen-0"); err != nil {
		t.Fatal(err)
	}
	j := db.journal
	j.mu.Lock()
	seg := j.seg
	j.f.Close() // every write to the segment fails, and so does its truncation
	j.mu.Unlock()
	if err := record("gen-1"); err == nil {
		t.Fatal("a charge whose record could not be written was acknowledged")
	}
	if err := record("gen-2"); err != nil {
		t.Fatalf("the charge after a failed write: %v", err)
	}
	if j.seg != seg+1 {
		t.Errorf("segment %d after a failed write, want a new one, %d", j.seg, seg+1)
	}
	if _, err := db.Generation(ctx, "gen-1"); !errors.Is(err, keygate.ErrNotFound) {
		t.Errorf("Generation(the refused charge) = %v, want not found", err)
	}
	if got := totalOf(t, db, "key-a"); got != 20 {
		t.Errorf("total = %d µ$, want 20: the refused charge adds nothing", got)
	}

	// No new segment can be made: the journal is broken for good.
	if err := record("gen-3"); err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.f.Close()
	if err := os.RemoveAll(j.dir); err != nil {
		t.Fatal(err)
	}
	j.mu.Unlock()
	for _, id := range []string{"gen-4", "gen-5"} {
		if err := record(id); err == nil {
			t.Fatalf("charge %s acknowledged with no segment to hold it", id)
		}
	}
	j.mu.Lock()
	broken := j.broken
	j.mu.Unlock()
	if broken == nil {
		t.Error("the journal is not marked broken with no segment to write to")
	}
	wantCommitted(t, db, 3, 30) // gen-0, gen-2, gen-3
}
