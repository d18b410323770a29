package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/keygate/keygate"
)

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

// Generation returns the generation with id.
func (db *DB) Generation(ctx context.Context, id string) (*keygate.Generation, error) {
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
		&latency, &genTime, &created); err != nil {
		return nil, err
	}
	g.AppID = intPtr[int64](appID)
	g.Latency = time.Duration(latency) * time.Microsecond
	g.GenerationTime = time.Duration(genTime) * time.Microsecond
	g.CreatedAt = fromMicros(created)
	return &g, nil
}

// KeyGenerations returns up to limit generations of keyHash, newest
// first, through the generations_key_created index.
func (db *DB) KeyGenerations(ctx context.Context, keyHash string, limit int) ([]*keygate.Generation, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+generationColumns+` FROM generations
		WHERE key_hash = ? ORDER BY created_at DESC, id DESC LIMIT ?`, keyHash, max(limit, 1))
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
