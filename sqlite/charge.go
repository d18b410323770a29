package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keygate/keygate"
)

// chunkSizes is how many statements of each multi-row kind are prepared:
// one for every power of two from 1 to 1<<(chunkSizes-1) rows. A batch's
// rows are written in chunks of those sizes (13 rows: 8, 4 and 1), so
// that a few prepared statements serve any count.
const chunkSizes = 7 // 1 to 64 rows

// RecordGeneration stores c's generation and adds its counters, in one
// write transaction (see keygate.UsageStore); c.Leases are ignored, as
// SQLite hands out no leases. With the charge journal (journal.go), the
// default, it returns once c is journaled, and the writer commits it
// within journalDelay; without it (another process keeps the file's
// journal), as follows.
//
// The charges queued while the writer is busy share one transaction and
// one commit (see write), and are written together in a few statements
// whatever their number (writeCharges): the new generations in multi-row
// inserts, then the counters of those that were new, summed per row
// (64 charges of one key: 4 rows, not 256), in multi-row upserts. The
// insert that finds an id taken adds nothing: the row is the gate.
func (db *DB) RecordGeneration(ctx context.Context, c *keygate.Charge) (bool, []keygate.UsageCounter, error) {
	if db.journal != nil {
		charged, sums, err := db.journalCharge(ctx, c)
		if err != nil {
			return false, nil, storeErr("record generation", err)
		}
		return charged, sums, nil
	}
	res, err := db.queue(ctx, &writeReq{ctx: ctx, charge: c})
	if err != nil {
		return false, nil, storeErr("record generation", err)
	}
	return res.charged, res.sums, nil
}

// writeCharges writes the charges of reqs in tx and sets each one's
// result. The first charge of an id in reqs is the one that may be new;
// a later one with the same id is a duplicate in any case. The
// increments are done by the database in the upserts, never read into Go
// and written back, so that no charge of another process on the file is
// lost.
func (db *DB) writeCharges(tx *sql.Tx, reqs []*writeReq) error {
	ctx := context.Background()
	first := make(map[string]*writeReq, len(reqs))
	gens := make([]*keygate.Generation, 0, len(reqs))
	for _, r := range reqs {
		r.res = writeResult{}
		id := r.charge.Generation.ID
		if _, dup := first[id]; !dup {
			first[id] = r
			gens = append(gens, r.charge.Generation)
		}
	}
	args := make([]any, 0, 24<<(chunkSizes-1))
	var inserted []*writeReq
	for chunk := range chunks(len(gens)) {
		args = args[:0]
		for _, g := range gens[chunk.from:chunk.to] {
			args = append(args, g.ID, g.KeyHash, g.UserID, g.WorkspaceID, nullIntPtr(g.AppID), g.Model,
				g.UpstreamModel, g.Provider, g.Endpoint, g.PromptTokens, g.CompletionTokens,
				g.ReasoningTokens, g.CachedTokens, int64(g.Cost), int64(g.UpstreamInferenceCost),
				g.BYOK, g.CostEstimated, g.Streamed, g.Cancelled, g.FinishReason,
				g.Latency.Microseconds(), g.GenerationTime.Microseconds(), micros(g.CreatedAt), g.UpstreamID)
		}
		st := tx.StmtContext(ctx, db.st.insertGenerations[chunk.size])
		if chunk.size == 0 {
			res, err := st.ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				inserted = append(inserted, first[gens[chunk.from].ID])
			}
			continue
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			r := first[id]
			if r == nil {
				rows.Close()
				return fmt.Errorf("the insert of generations returned id %q, not one of the batch", id)
			}
			inserted = append(inserted, r)
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	sums := make(map[keygate.UsageCounter]keygate.UsageCounter)
	for _, r := range inserted {
		r.res.charged = true
		for _, c := range r.charge.Counters {
			ref := counterRef(c)
			s := sums[ref]
			s.Micros += c.Micros
			s.BYOKMicros += c.BYOKMicros
			sums[ref] = s
		}
	}
	// In key order, as on PostgreSQL: the rows of one key lie together in
	// the table's primary key.
	refs := slices.SortedFunc(maps.Keys(sums), func(a, b keygate.UsageCounter) int {
		return cmp.Or(strings.Compare(a.KeyHash, b.KeyHash), strings.Compare(a.Period, b.Period), a.Start.Compare(b.Start))
	})
	for chunk := range chunks(len(refs)) {
		args = args[:0]
		for _, ref := range refs[chunk.from:chunk.to] {
			s := sums[ref]
			args = append(args, ref.KeyHash, ref.Period, micros(ref.Start), int64(s.Micros), int64(s.BYOKMicros))
		}
		rows, err := tx.StmtContext(ctx, db.st.addCounters[chunk.size]).QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var c keygate.UsageCounter
			var start int64
			if err := rows.Scan(&c.KeyHash, &c.Period, &start, &c.Micros, &c.BYOKMicros); err != nil {
				rows.Close()
				return err
			}
			c.Start = fromMicros(start)
			sums[counterRef(c)] = c
			n++
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if n != chunk.to-chunk.from {
			return errors.New("a counter's upsert returned no row")
		}
	}
	if err := db.addRollups(tx, inserted); err != nil {
		return err
	}
	for _, r := range inserted {
		r.res.sums = make([]keygate.UsageCounter, len(r.charge.Counters))
		for i, c := range r.charge.Counters {
			r.res.sums[i] = sums[counterRef(c)]
		}
	}
	return nil
}

// chunk is the rows [from, to) of a batch, written by the statement for
// 1<<size rows.
type chunk struct{ from, to, size int }

// chunks splits n rows into chunks of power-of-two sizes, largest first.
func chunks(n int) func(yield func(chunk) bool) {
	return func(yield func(chunk) bool) {
		from := 0
		for size := chunkSizes - 1; size >= 0; size-- {
			for n-from >= 1<<size {
				if !yield(chunk{from, from + 1<<size, size}) {
					return
				}
				from += 1 << size
			}
		}
	}
}

// counterRef is c without its sums: the identity of a counter row.
func counterRef(c keygate.UsageCounter) keygate.UsageCounter {
	return keygate.UsageCounter{KeyHash: c.KeyHash, Period: c.Period, Start: c.Start}
}

// sqlInsertGenerations is the insert of n generations whose ids are new;
// it returns those ids, but for one row, where the count of rows changed
// says whether it was new and costs less to read.
func sqlInsertGenerations(n int) string {
	q := `INSERT INTO generations (` + generationColumns + `) VALUES ` +
		rowsOf(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") + `
		ON CONFLICT (id) DO NOTHING`
	if n > 1 {
		q += ` RETURNING id`
	}
	return q
}

// sqlAddCounters is the upsert of n counter rows (key, period, start,
// micros, BYOK micros), each adding to its stored sums; it returns the
// sums after, in no set order.
func sqlAddCounters(n int) string {
	return `INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros) VALUES ` +
		rowsOf(n, "(?, ?, ?, ?, ?)") + `
		ON CONFLICT (key_hash, period, period_start) DO UPDATE SET
			micros = micros + excluded.micros,
			byok_micros = byok_micros + excluded.byok_micros
		RETURNING key_hash, period, period_start, micros, byok_micros`
}

// rowsOf is n copies of row, comma-separated.
func rowsOf(n int, row string) string {
	return strings.Repeat(row+", ", n-1) + row
}

// addRollups adds the rollup rows of the charges inserted, summed per row
// first (64 charges of one app, day and model: one row), in multi-row
// upserts.
func (db *DB) addRollups(tx *sql.Tx, inserted []*writeReq) error {
	ctx := context.Background()
	type appRef struct {
		app   int64
		day   int64
		model string
	}
	type userRef struct {
		user                            string
		day                             int64
		workspace, key, model, provider string
	}
	apps := make(map[appRef]*keygate.AppDay)
	users := make(map[userRef]*keygate.UserDay)
	var appOrder []appRef
	var userOrder []userRef
	for _, r := range inserted {
		if a := r.charge.AppDay; a != nil {
			ref := appRef{a.AppID, micros(a.Day), a.Model}
			if s, ok := apps[ref]; ok {
				s.Add(a)
			} else {
				c := *a
				apps[ref] = &c
				appOrder = append(appOrder, ref)
			}
		}
		if u := r.charge.UserDay; u != nil {
			ref := userRef{u.UserID, micros(u.Day), u.WorkspaceID, u.KeyHash, u.Model, u.Provider}
			if s, ok := users[ref]; ok {
				s.Add(u)
			} else {
				c := *u
				users[ref] = &c
				userOrder = append(userOrder, ref)
			}
		}
	}
	var args []any
	for chunk := range chunks(len(appOrder)) {
		args = args[:0]
		for _, ref := range appOrder[chunk.from:chunk.to] {
			a := apps[ref]
			args = append(args, ref.day, ref.app, ref.model, a.Requests, a.PromptTokens, a.CompletionTokens)
		}
		if _, err := tx.StmtContext(ctx, db.st.addAppDays[chunk.size]).ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	for chunk := range chunks(len(userOrder)) {
		args = args[:0]
		for _, ref := range userOrder[chunk.from:chunk.to] {
			u := users[ref]
			args = append(args, ref.user, ref.day, ref.workspace, ref.key, ref.model, ref.provider,
				u.Requests, u.PromptTokens, u.CompletionTokens, u.ReasoningTokens, int64(u.Micros), int64(u.BYOKMicros))
		}
		if _, err := tx.StmtContext(ctx, db.st.addUserDays[chunk.size]).ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// sqlAddAppDays is the upsert of n app rollup rows (day, app, model,
// requests, prompt and completion tokens), each adding to its stored sums.
func sqlAddAppDays(n int) string {
	return `INSERT INTO app_usage_daily (day, app_id, model, requests, prompt_tokens, completion_tokens) VALUES ` +
		rowsOf(n, "(?, ?, ?, ?, ?, ?)") + `
		ON CONFLICT (day, app_id, model) DO UPDATE SET
			requests = requests + excluded.requests,
			prompt_tokens = prompt_tokens + excluded.prompt_tokens,
			completion_tokens = completion_tokens + excluded.completion_tokens`
}

// sqlAddUserDays is the upsert of n user rollup rows, each adding to its
// stored sums.
func sqlAddUserDays(n int) string {
	return `INSERT INTO user_usage_daily (user_id, day, workspace_id, key_hash, model, provider,
		requests, prompt_tokens, completion_tokens, reasoning_tokens, micros, byok_micros) VALUES ` +
		rowsOf(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") + `
		ON CONFLICT (user_id, day, workspace_id, key_hash, model, provider) DO UPDATE SET
			requests = requests + excluded.requests,
			prompt_tokens = prompt_tokens + excluded.prompt_tokens,
			completion_tokens = completion_tokens + excluded.completion_tokens,
			reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
			micros = micros + excluded.micros,
			byok_micros = byok_micros + excluded.byok_micros`
}
