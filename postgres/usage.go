package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

// generationColumns are the columns of generations, in the order of
// keygate.Generation's fields.
const generationColumns = `id, key_hash, user_id, workspace_id, app_id, model,
	upstream_model, provider, endpoint, prompt_tokens, completion_tokens,
	reasoning_tokens, cached_tokens, cost_micros, upstream_cost_micros,
	byok, cost_estimated, streamed, cancelled, finish_reason, latency_us,
	generation_time_us, created_at, upstream_id`

// counterRef is c without its sums, and with its start in UTC: the
// identity of a counter row.
func counterRef(c keygate.UsageCounter) keygate.UsageCounter {
	return keygate.UsageCounter{KeyHash: c.KeyHash, Period: c.Period, Start: c.Start.UTC()}
}

// scanCounters reads rows of (key_hash, period, period_start, micros,
// byok_micros) and closes rows.
func scanCounters(rows pgx.Rows) ([]keygate.UsageCounter, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (keygate.UsageCounter, error) {
		var c keygate.UsageCounter
		var n, b int64
		err := r.Scan(&c.KeyHash, &c.Period, &c.Start, &n, &b)
		c.Start, c.Micros, c.BYOKMicros = c.Start.UTC(), keygate.Micros(n), keygate.Micros(b)
		return c, err
	})
}

// UsageCounters returns the counters of keyHash among want.
func (db *DB) UsageCounters(ctx context.Context, keyHash string, want []keygate.UsageCounter) ([]keygate.UsageCounter, error) {
	periods, starts := make([]string, len(want)), make([]time.Time, len(want))
	for i, c := range want {
		periods[i], starts[i] = c.Period, c.Start
	}
	rows, err := db.pool.Query(ctx, `
		SELECT key_hash, period, period_start, micros, byok_micros FROM usage_counters
		WHERE key_hash = $1
		  AND (period, period_start) IN (SELECT * FROM unnest($2::text[], $3::timestamptz[]))`,
		keyHash, periods, starts)
	if err != nil {
		return nil, storeErr("usage counters", err)
	}
	out, err := scanCounters(rows)
	if err != nil {
		return nil, storeErr("usage counters", err)
	}
	return out, nil
}

// Generation returns the generation with id.
func (db *DB) Generation(ctx context.Context, id string) (*keygate.Generation, error) {
	g, err := scanGeneration(db.pool.QueryRow(ctx, `SELECT `+generationColumns+` FROM generations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keygate.ErrNotFound
	} else if err != nil {
		return nil, storeErr("generation", err)
	}
	return g, nil
}

// scanGeneration reads a row of generationColumns.
func scanGeneration(row scanner) (*keygate.Generation, error) {
	var g keygate.Generation
	var cost, upCost, latency, genTime int64
	if err := row.Scan(
		&g.ID, &g.KeyHash, &g.UserID, &g.WorkspaceID, &g.AppID, &g.Model,
		&g.UpstreamModel, &g.Provider, &g.Endpoint, &g.PromptTokens, &g.CompletionTokens,
		&g.ReasoningTokens, &g.CachedTokens, &cost, &upCost,
		&g.BYOK, &g.CostEstimated, &g.Streamed, &g.Cancelled, &g.FinishReason,
		&latency, &genTime, &g.CreatedAt, &g.UpstreamID); err != nil {
		return nil, err
	}
	g.Cost, g.UpstreamInferenceCost = keygate.Micros(cost), keygate.Micros(upCost)
	g.Latency = time.Duration(latency) * time.Microsecond
	g.GenerationTime = time.Duration(genTime) * time.Microsecond
	g.CreatedAt = g.CreatedAt.UTC()
	return &g, nil
}

// KeyGenerations returns up to limit generations of keyHash, newest
// first, through the generations_key_created index.
func (db *DB) KeyGenerations(ctx context.Context, keyHash string, limit int) ([]*keygate.Generation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+generationColumns+` FROM generations
		WHERE key_hash = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, keyHash, max(limit, 1))
	if err != nil {
		return nil, storeErr("key generations", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*keygate.Generation, error) { return scanGeneration(r) })
	if err != nil {
		return nil, storeErr("key generations", err)
	}
	return out, nil
}
