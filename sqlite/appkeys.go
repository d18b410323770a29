package sqlite

import (
	"context"
	"time"

	"github.com/keygate/keygate"
)

// AppKeyTotals adds up the keys of every app that keys were minted for
// (keygate.AppStore). Each key has one all-time counter row at most, so
// the join counts each key once.
func (db *DB) AppKeyTotals(ctx context.Context, now time.Time) ([]keygate.AppKeyTotal, error) {
	if err := db.Flush(ctx); err != nil {
		return nil, storeErr("app key totals", err)
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT k.app_id, count(DISTINCT k.user_id), count(*),
			sum(CASE WHEN k.disabled = 0 AND (k.expires_at IS NULL OR k.expires_at > ?) THEN 1 ELSE 0 END),
			coalesce(sum(c.micros), 0), coalesce(sum(c.byok_micros), 0)
		FROM api_keys k
		LEFT JOIN usage_counters c ON c.key_hash = k.hash AND c.period = 'total' AND c.period_start = 0
		WHERE k.app_id IS NOT NULL
		GROUP BY k.app_id`, micros(now))
	if err != nil {
		return nil, storeErr("app key totals", err)
	}
	defer rows.Close()
	var out []keygate.AppKeyTotal
	for rows.Next() {
		var t keygate.AppKeyTotal
		if err := rows.Scan(&t.AppID, &t.Users, &t.Keys, &t.Live, &t.Micros, &t.BYOKMicros); err != nil {
			return nil, storeErr("app key totals", err)
		}
		out = append(out, t)
	}
	return out, storeErr("app key totals", rows.Err())
}
