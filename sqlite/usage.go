package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keygate/keygate"
)

// Counter periods, as stored in usage_counters.period.
const (
	periodTotal = "total"
	periodDay   = "day"
	periodWeek  = "week"
	periodMonth = "month"
)

// counter names one row of usage_counters for a key.
type counter struct {
	period string
	start  int64 // unix microseconds; 0 for the total
}

// counterRows lists the counter rows that an instant in periods p falls in:
// the all-time total and the day, week and month.
func counterRows(p keygate.Periods) [4]counter {
	return [4]counter{
		{periodTotal, 0},
		{periodDay, micros(p.Day)},
		{periodWeek, micros(p.Week)},
		{periodMonth, micros(p.Month)},
	}
}

// RecordUsage stores ev and adds ev.Cost to the counters of every key in
// keyHashes for the periods p (to the BYOK counters when ev.BYOK), in one
// transaction. The keys need not exist: usage reported for a deleted key
// is kept, not refused.
func (db *DB) RecordUsage(ctx context.Context, ev *keygate.UsageEvent, keyHashes []string, p keygate.Periods) error {
	var paid, byok keygate.Micros = ev.Cost, 0
	if ev.BYOK {
		paid, byok = 0, ev.Cost
	}
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO usage_events (key_hash, app_id, model, prompt_tokens,
				completion_tokens, cost_micros, byok, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.KeyHash, nullIntPtr(ev.AppID), ev.Model, ev.PromptTokens,
			ev.CompletionTokens, int64(ev.Cost), ev.BYOK, micros(ev.CreatedAt))
		if err != nil {
			return err
		}
		// The increment is done by the database in the upsert itself,
		// never read into Go and written back, so no concurrent report
		// (from this process or another) can be lost.
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key_hash, period, period_start) DO UPDATE SET
				micros = micros + excluded.micros,
				byok_micros = byok_micros + excluded.byok_micros`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, h := range keyHashes {
			for _, c := range counterRows(p) {
				if _, err := stmt.ExecContext(ctx, h, c.period, c.start, int64(paid), int64(byok)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return storeErr("record usage", err)
}

// KeyUsage returns the usage of the key with keyHash: all-time, and in the
// day, week and month of p. Periods without usage count 0, and so does an
// unknown key.
func (db *DB) KeyUsage(ctx context.Context, keyHash string, p keygate.Periods) (keygate.Usage, error) {
	var u keygate.Usage
	rows := counterRows(p)
	r, err := db.st.keyUsage.QueryContext(ctx,
		keyHash,
		rows[0].period, rows[0].start, rows[1].period, rows[1].start,
		rows[2].period, rows[2].start, rows[3].period, rows[3].start)
	if err != nil {
		return u, storeErr("key usage", err)
	}
	defer r.Close()
	for r.Next() {
		var period string
		var n, b keygate.Micros
		if err := r.Scan(&period, &n, &b); err != nil {
			return keygate.Usage{}, storeErr("key usage", err)
		}
		switch period {
		case periodTotal:
			u.Total, u.BYOKTotal = n, b
		case periodDay:
			u.Daily, u.BYOKDaily = n, b
		case periodWeek:
			u.Weekly, u.BYOKWeekly = n, b
		case periodMonth:
			u.Monthly, u.BYOKMonthly = n, b
		default:
			return keygate.Usage{}, storeErr("key usage", fmt.Errorf("unknown period %q", period))
		}
	}
	if err := r.Err(); err != nil {
		return keygate.Usage{}, storeErr("key usage", err)
	}
	return u, nil
}
