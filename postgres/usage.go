package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate"
)

// Counter periods, as stored in usage_counters.period.
const (
	periodTotal = "total"
	periodDay   = "day"
	periodWeek  = "week"
	periodMonth = "month"
)

// totalStart is the period_start of the all-time counter.
var totalStart = time.Unix(0, 0).UTC()

// counterRows lists the counter rows that an instant in periods p falls in:
// the all-time total and the day, week and month, as parallel arrays.
func counterRows(p keygate.Periods) ([]string, []time.Time) {
	return []string{periodTotal, periodDay, periodWeek, periodMonth},
		[]time.Time{totalStart, p.Day, p.Week, p.Month}
}

// RecordUsage stores ev and adds ev.Cost to the counters of every key in
// keyHashes for the periods p (to the BYOK counters when ev.BYOK), in one
// transaction. A hash listed twice is counted twice. The keys need not
// exist: usage reported for a deleted key is kept, not refused.
func (db *DB) RecordUsage(ctx context.Context, ev *keygate.UsageEvent, keyHashes []string, p keygate.Periods) error {
	var paid, byok keygate.Micros = ev.Cost, 0
	if ev.BYOK {
		paid, byok = 0, ev.Cost
	}
	// One counter row is upserted once per statement, so repeated hashes
	// become a multiplier. Sorted, so that concurrent reports lock the
	// same rows in the same order and cannot deadlock.
	hashes := slices.Sorted(slices.Values(keyHashes))
	var uniq []string
	var times []int64
	for i, h := range hashes {
		if i > 0 && h == hashes[i-1] {
			times[len(times)-1]++
			continue
		}
		uniq, times = append(uniq, h), append(times, 1)
	}
	periods, starts := counterRows(p)
	// One statement, so one transaction: the event and every counter.
	// The increment is done by the database in the upsert itself, never
	// read into Go and written back: a concurrent report that wants the
	// same row waits for its lock and then adds to the committed sum, so
	// no report from any replica is lost.
	_, err := db.pool.Exec(ctx, `
		WITH event AS (
			INSERT INTO usage_events (key_hash, app_id, model, prompt_tokens,
				completion_tokens, cost_micros, byok, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		)
		INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros)
		SELECT k.hash, c.period, c.start, $9 * k.times, $10 * k.times
		FROM unnest($11::text[], $12::bigint[]) AS k (hash, times)
		CROSS JOIN unnest($13::text[], $14::timestamptz[]) AS c (period, start)
		ORDER BY 1, 2, 3
		ON CONFLICT (key_hash, period, period_start) DO UPDATE SET
			micros = usage_counters.micros + excluded.micros,
			byok_micros = usage_counters.byok_micros + excluded.byok_micros`,
		ev.KeyHash, ev.AppID, ev.Model, ev.PromptTokens,
		ev.CompletionTokens, int64(ev.Cost), ev.BYOK, ev.CreatedAt,
		int64(paid), int64(byok), uniq, times, periods, starts)
	return storeErr("record usage", err)
}

// KeyUsage returns the usage of the key with keyHash: all-time, and in the
// day, week and month of p. Periods without usage count 0, and so does an
// unknown key.
func (db *DB) KeyUsage(ctx context.Context, keyHash string, p keygate.Periods) (keygate.Usage, error) {
	var u keygate.Usage
	periods, starts := counterRows(p)
	rows, err := db.pool.Query(ctx, `
		SELECT period, micros, byok_micros FROM usage_counters
		WHERE key_hash = $1
		  AND (period, period_start) IN (SELECT * FROM unnest($2::text[], $3::timestamptz[]))`,
		keyHash, periods, starts)
	if err != nil {
		return u, storeErr("key usage", err)
	}
	defer rows.Close()
	for rows.Next() {
		var period string
		var n, b int64
		if err := rows.Scan(&period, &n, &b); err != nil {
			return keygate.Usage{}, storeErr("key usage", err)
		}
		switch period {
		case periodTotal:
			u.Total, u.BYOKTotal = keygate.Micros(n), keygate.Micros(b)
		case periodDay:
			u.Daily, u.BYOKDaily = keygate.Micros(n), keygate.Micros(b)
		case periodWeek:
			u.Weekly, u.BYOKWeekly = keygate.Micros(n), keygate.Micros(b)
		case periodMonth:
			u.Monthly, u.BYOKMonthly = keygate.Micros(n), keygate.Micros(b)
		default:
			return keygate.Usage{}, storeErr("key usage", fmt.Errorf("unknown period %q", period))
		}
	}
	if err := rows.Err(); err != nil {
		return keygate.Usage{}, storeErr("key usage", err)
	}
	return u, nil
}
