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
	generation_time_us, created_at`

// sqlRecordGeneration stores a generation and, only when its id was new,
// adds to the counters, in one statement and so one transaction. The
// increment is done by the database in the upsert itself, never read into
// Go and written back: a concurrent charge that wants the same row waits
// for its lock and then adds to the committed sum, so no charge from any
// replica is lost. Counters are summed per row first (a row may be
// upserted once per statement) and upserted in key order, so that
// concurrent charges lock rows in one order and cannot deadlock. The last
// row, with an empty key, says the generation was new.
const sqlRecordGeneration = `
	WITH gen AS (
		INSERT INTO generations (` + generationColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
			$16, $17, $18, $19, $20, $21, $22, $23)
		ON CONFLICT (id) DO NOTHING
		RETURNING id
	), up AS (
		INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros)
		SELECT c.hash, c.period, c.start, sum(c.micros), sum(c.byok)
		FROM unnest($24::text[], $25::text[], $26::timestamptz[], $27::bigint[], $28::bigint[])
			AS c (hash, period, start, micros, byok)
		WHERE EXISTS (SELECT 1 FROM gen)
		GROUP BY 1, 2, 3
		ORDER BY 1, 2, 3
		ON CONFLICT (key_hash, period, period_start) DO UPDATE SET
			micros = usage_counters.micros + excluded.micros,
			byok_micros = usage_counters.byok_micros + excluded.byok_micros
		RETURNING key_hash, period, period_start, micros, byok_micros
	)
	SELECT key_hash, period, period_start, micros, byok_micros FROM up
	UNION ALL
	SELECT '', '', 'epoch'::timestamptz, 0, 0 FROM gen`

// RecordGeneration stores g and adds the counters of add, in one
// statement (see keygate.UsageStore).
func (db *DB) RecordGeneration(ctx context.Context, g *keygate.Generation, add []keygate.UsageCounter) (bool, []keygate.UsageCounter, error) {
	n := len(add)
	hashes, periods := make([]string, n), make([]string, n)
	starts, paid, byok := make([]time.Time, n), make([]int64, n), make([]int64, n)
	for i, c := range add {
		hashes[i], periods[i], starts[i] = c.KeyHash, c.Period, c.Start
		paid[i], byok[i] = int64(c.Micros), int64(c.BYOKMicros)
	}
	rows, err := db.pool.Query(ctx, sqlRecordGeneration,
		g.ID, g.KeyHash, g.UserID, g.WorkspaceID, g.AppID, g.Model,
		g.UpstreamModel, g.Provider, g.Endpoint, g.PromptTokens, g.CompletionTokens,
		g.ReasoningTokens, g.CachedTokens, int64(g.Cost), int64(g.UpstreamInferenceCost),
		g.BYOK, g.CostEstimated, g.Streamed, g.Cancelled, g.FinishReason,
		g.Latency.Microseconds(), g.GenerationTime.Microseconds(), g.CreatedAt,
		hashes, periods, starts, paid, byok)
	if err != nil {
		return false, nil, storeErr("record generation", err)
	}
	got, err := scanCounters(rows)
	if err != nil {
		return false, nil, storeErr("record generation", err)
	}
	charged := false
	after := make(map[keygate.UsageCounter]keygate.UsageCounter, len(got))
	for _, c := range got {
		if c.KeyHash == "" {
			charged = true
			continue
		}
		after[counterRef(c)] = c
	}
	if !charged {
		return false, nil, nil
	}
	sums := make([]keygate.UsageCounter, n)
	for i, c := range add {
		sums[i] = after[counterRef(c)]
	}
	return true, sums, nil
}

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
	var g keygate.Generation
	var cost, upCost, latency, genTime int64
	err := db.pool.QueryRow(ctx, `SELECT `+generationColumns+` FROM generations WHERE id = $1`, id).Scan(
		&g.ID, &g.KeyHash, &g.UserID, &g.WorkspaceID, &g.AppID, &g.Model,
		&g.UpstreamModel, &g.Provider, &g.Endpoint, &g.PromptTokens, &g.CompletionTokens,
		&g.ReasoningTokens, &g.CachedTokens, &cost, &upCost,
		&g.BYOK, &g.CostEstimated, &g.Streamed, &g.Cancelled, &g.FinishReason,
		&latency, &genTime, &g.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keygate.ErrNotFound
	} else if err != nil {
		return nil, storeErr("generation", err)
	}
	g.Cost, g.UpstreamInferenceCost = keygate.Micros(cost), keygate.Micros(upCost)
	g.Latency = time.Duration(latency) * time.Microsecond
	g.GenerationTime = time.Duration(genTime) * time.Microsecond
	g.CreatedAt = g.CreatedAt.UTC()
	return &g, nil
}
