package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate"
)

// UsageCounters returns the counters of keyHash among want, the charges
// in the journal included.
func (db *DB) UsageCounters(ctx context.Context, keyHash string, want []keygate.UsageCounter) ([]keygate.UsageCounter, error) {
	// The journal's sums first: a counter it lacks has no charge waiting
	// for its commit, so the database read after holds every charge
	// acknowledged before; one it holds is at least as new in the
	// journal as in the database read after (withJournal).
	journaled := db.journal.sumsOf(want)
	stored, err := db.storedCounters(ctx, keyHash, want)
	if err != nil {
		return nil, err
	}
	return withJournal(keyHash, stored, journaled), nil
}

// withJournal is the counters of keyHash in stored with the journal's
// sums of them (journaled) merged in: the larger of the two, as counters
// only grow.
func withJournal(keyHash string, stored []keygate.UsageCounter, journaled map[keygate.UsageCounter]keygate.UsageCounter) []keygate.UsageCounter {
	if len(journaled) == 0 {
		return stored
	}
	for i, c := range stored {
		if j, ok := journaled[counterRef(c)]; ok {
			stored[i].Micros, stored[i].BYOKMicros = max(c.Micros, j.Micros), max(c.BYOKMicros, j.BYOKMicros)
			delete(journaled, counterRef(c))
		}
	}
	for _, j := range journaled {
		if j.KeyHash == keyHash {
			stored = append(stored, j)
		}
	}
	return stored
}

// storedCountersOf returns the stored sums of the counters refs, which may
// be of several keys.
func (db *DB) storedCountersOf(ctx context.Context, refs []keygate.UsageCounter) (map[keygate.UsageCounter]keygate.UsageCounter, error) {
	out := make(map[keygate.UsageCounter]keygate.UsageCounter, len(refs))
	for len(refs) > 0 {
		hash := refs[0].KeyHash
		var of, rest []keygate.UsageCounter
		for _, r := range refs {
			if r.KeyHash == hash {
				of = append(of, r)
			} else {
				rest = append(rest, r)
			}
		}
		rows, err := db.storedCounters(ctx, hash, of)
		if err != nil {
			return nil, err
		}
		for _, c := range rows {
			out[counterRef(c)] = c
		}
		refs = rest
	}
	return out, nil
}

// storedCounters returns the counters of keyHash among want as the
// database holds them.
func (db *DB) storedCounters(ctx context.Context, keyHash string, want []keygate.UsageCounter) ([]keygate.UsageCounter, error) {
	if len(want) == 0 {
		return nil, nil
	}
	args := []any{keyHash}
	var q *sql.Rows
	var err error
	if len(want) == 4 {
		for _, c := range want {
			args = append(args, c.Period, micros(c.Start))
		}
		q, err = db.st.usageCounters.QueryContext(ctx, args...)
	} else {
		var values []string
		for _, c := range want {
			values = append(values, "(?, ?)")
			args = append(args, c.Period, micros(c.Start))
		}
		q, err = db.reader.QueryContext(ctx, `
			SELECT period, period_start, micros, byok_micros FROM usage_counters
			WHERE key_hash = ? AND (period, period_start) IN (VALUES `+strings.Join(values, ", ")+`)`, args...)
	}
	if err != nil {
		return nil, storeErr("usage counters", err)
	}
	defer q.Close()
	var out []keygate.UsageCounter
	for q.Next() {
		c := keygate.UsageCounter{KeyHash: keyHash}
		var start int64
		if err := q.Scan(&c.Period, &start, &c.Micros, &c.BYOKMicros); err != nil {
			return nil, storeErr("usage counters", err)
		}
		c.Start = fromMicros(start)
		out = append(out, c)
	}
	if err := q.Err(); err != nil {
		return nil, storeErr("usage counters", err)
	}
	return out, nil
}

// Generation returns the generation with id, from the journal if it waits
// there for its commit.
func (db *DB) Generation(ctx context.Context, id string) (*keygate.Generation, error) {
	// The journal first: a generation leaves it once committed.
	if g := db.journal.generation(id); g != nil {
		return g, nil
	}
	g, err := scanGeneration(db.st.generation.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keygate.ErrNotFound
	} else if err != nil {
		return nil, storeErr("generation", err)
	}
	return g, nil
}

// scanGeneration reads a row of generationColumns.
func scanGeneration(row scanner) (*keygate.Generation, error) {
	var g keygate.Generation
	var appID sql.Null[int64]
	var latency, genTime, created int64
	if err := row.Scan(
		&g.ID, &g.KeyHash, &g.UserID, &g.WorkspaceID, &appID, &g.Model,
		&g.UpstreamModel, &g.Provider, &g.Endpoint, &g.PromptTokens, &g.CompletionTokens,
		&g.ReasoningTokens, &g.CachedTokens, &g.Cost, &g.UpstreamInferenceCost,
		&g.BYOK, &g.CostEstimated, &g.Streamed, &g.Cancelled, &g.FinishReason,
		&latency, &genTime, &created, &g.UpstreamID); err != nil {
		return nil, err
	}
	g.AppID = intPtr[int64](appID)
	g.Latency = time.Duration(latency) * time.Microsecond
	g.GenerationTime = time.Duration(genTime) * time.Microsecond
	g.CreatedAt = fromMicros(created)
	return &g, nil
}

// generationStored reports whether the generation id is stored.
func (db *DB) generationStored(ctx context.Context, id string) (bool, error) {
	var one int
	err := db.st.generationExists.QueryRowContext(ctx, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, storeErr("generation", err)
	}
	return true, nil
}

// KeyGenerations returns up to limit generations of keyHash, newest
// first, through the generations_key_created index, those in the journal
// included.
func (db *DB) KeyGenerations(ctx context.Context, keyHash string, limit int) ([]*keygate.Generation, error) {
	limit = max(limit, 1)
	journaled := db.journal.keyGenerations(keyHash)
	stored, err := db.storedKeyGenerations(ctx, keyHash, limit)
	if err != nil || len(journaled) == 0 {
		return stored, err
	}
	// A generation may be in both: committed after the journal was read.
	for _, g := range stored {
		if !slices.ContainsFunc(journaled, func(j *keygate.Generation) bool { return j.ID == g.ID }) {
			journaled = append(journaled, g)
		}
	}
	slices.SortFunc(journaled, func(a, b *keygate.Generation) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	return journaled[:min(limit, len(journaled))], nil
}

// storedKeyGenerations is KeyGenerations of the database alone.
func (db *DB) storedKeyGenerations(ctx context.Context, keyHash string, limit int) ([]*keygate.Generation, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+generationColumns+` FROM generations
		WHERE key_hash = ? ORDER BY created_at DESC, id DESC LIMIT ?`, keyHash, limit)
	if err != nil {
		return nil, storeErr("key generations", err)
	}
	defer rows.Close()
	var out []*keygate.Generation
	for rows.Next() {
		g, err := scanGeneration(rows)
		if err != nil {
			return nil, storeErr("key generations", err)
		}
		out = append(out, g)
	}
	return out, storeErr("key generations", rows.Err())
}
