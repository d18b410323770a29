package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/keygate/keygate"
)

// RecordGeneration stores c's generation and adds its counters, in one
// write transaction (see keygate.UsageStore); c.Leases are ignored, as
// SQLite hands out no leases. Through the group commit of write,
// the settlements of many concurrent requests share one transaction and
// one commit, each in its own savepoint. The insert that finds g.ID taken
// changes nothing and ends the function: the row is the gate.
func (db *DB) RecordGeneration(ctx context.Context, c *keygate.Charge) (bool, []keygate.UsageCounter, error) {
	g, add := c.Generation, c.Counters
	var charged bool
	var sums []keygate.UsageCounter
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		charged, sums = false, nil
		res, err := tx.StmtContext(ctx, db.st.insertGeneration).ExecContext(ctx,
			g.ID, g.KeyHash, g.UserID, g.WorkspaceID, nullIntPtr(g.AppID), g.Model,
			g.UpstreamModel, g.Provider, g.Endpoint, g.PromptTokens, g.CompletionTokens,
			g.ReasoningTokens, g.CachedTokens, int64(g.Cost), int64(g.UpstreamInferenceCost),
			g.BYOK, g.CostEstimated, g.Streamed, g.Cancelled, g.FinishReason,
			g.Latency.Microseconds(), g.GenerationTime.Microseconds(), micros(g.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		charged = true
		// The increment is done by the database in the upsert itself,
		// never read into Go and written back, so no concurrent charge
		// (from this process or another) can be lost.
		// The four counters of each key (Counters) go in one statement.
		sums = make([]keygate.UsageCounter, len(add))
		i := 0
		for ; i+4 <= len(add); i += 4 {
			if err := db.addCounters4(ctx, tx, add[i:i+4], sums[i:i+4]); err != nil {
				return err
			}
		}
		st := tx.StmtContext(ctx, db.st.addCounter)
		for ; i < len(add); i++ {
			c := add[i]
			s := c
			if err := st.QueryRowContext(ctx, c.KeyHash, c.Period, micros(c.Start),
				int64(c.Micros), int64(c.BYOKMicros)).Scan(&s.Micros, &s.BYOKMicros); err != nil {
				return err
			}
			sums[i] = s
		}
		// A counter listed twice was upserted twice: each reports the
		// sum after the last.
		last := make(map[keygate.UsageCounter]keygate.UsageCounter, len(sums))
		for _, c := range sums {
			last[counterRef(c)] = c
		}
		for i, c := range sums {
			sums[i] = last[counterRef(c)]
		}
		return nil
	})
	if err != nil {
		return false, nil, storeErr("record generation", err)
	}
	return charged, sums, nil
}

// addCounters4 adds the four counters cs in one upsert and sets sums, in
// the order of cs, to their sums after it. The rows RETURNING gives come
// in no set order: they are matched by key, period and start, and a
// counter listed twice gets the larger sums (counters only grow).
func (db *DB) addCounters4(ctx context.Context, tx *sql.Tx, cs, sums []keygate.UsageCounter) error {
	args := make([]any, 0, 20)
	for _, c := range cs {
		args = append(args, c.KeyHash, c.Period, micros(c.Start), int64(c.Micros), int64(c.BYOKMicros))
	}
	rows, err := tx.StmtContext(ctx, db.st.addCounters4).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hash, period string
		var start int64
		var m, byok keygate.Micros
		if err := rows.Scan(&hash, &period, &start, &m, &byok); err != nil {
			return err
		}
		for i, c := range cs {
			if c.KeyHash == hash && c.Period == period && micros(c.Start) == start {
				if sums[i].KeyHash == "" {
					sums[i] = c
					sums[i].Micros, sums[i].BYOKMicros = m, byok
				}
				sums[i].Micros, sums[i].BYOKMicros = max(sums[i].Micros, m), max(sums[i].BYOKMicros, byok)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range sums {
		if s.KeyHash == "" {
			return errors.New("a counter's upsert returned no row")
		}
	}
	return nil
}

// counterRef is c without its sums: the identity of a counter row.
func counterRef(c keygate.UsageCounter) keygate.UsageCounter {
	return keygate.UsageCounter{KeyHash: c.KeyHash, Period: c.Period, Start: c.Start}
}

// UsageCounters returns the counters of keyHash among want.
func (db *DB) UsageCounters(ctx context.Context, keyHash string, want []keygate.UsageCounter) ([]keygate.UsageCounter, error) {
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
		var where []string
		for _, c := range want {
			where = append(where, "(period = ? AND period_start = ?)")
			args = append(args, c.Period, micros(c.Start))
		}
		q, err = db.reader.QueryContext(ctx, `
			SELECT period, period_start, micros, byok_micros FROM usage_counters
			WHERE key_hash = ? AND (`+strings.Join(where, " OR ")+`)`, args...)
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

// Generation returns the generation with id.
func (db *DB) Generation(ctx context.Context, id string) (*keygate.Generation, error) {
	var g keygate.Generation
	var appID sql.Null[int64]
	var latency, genTime, created int64
	err := db.st.generation.QueryRowContext(ctx, id).Scan(
		&g.ID, &g.KeyHash, &g.UserID, &g.WorkspaceID, &appID, &g.Model,
		&g.UpstreamModel, &g.Provider, &g.Endpoint, &g.PromptTokens, &g.CompletionTokens,
		&g.ReasoningTokens, &g.CachedTokens, &g.Cost, &g.UpstreamInferenceCost,
		&g.BYOK, &g.CostEstimated, &g.Streamed, &g.Cancelled, &g.FinishReason,
		&latency, &genTime, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keygate.ErrNotFound
	} else if err != nil {
		return nil, storeErr("generation", err)
	}
	g.AppID = intPtr[int64](appID)
	g.Latency = time.Duration(latency) * time.Microsecond
	g.GenerationTime = time.Duration(genTime) * time.Microsecond
	g.CreatedAt = fromMicros(created)
	return &g, nil
}
