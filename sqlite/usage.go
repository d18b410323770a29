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
