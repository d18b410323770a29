package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

// AppKeyTotals adds up the keys of every app that keys were minted for
// (keygate.AppStore). Each key has one all-time counter row at most, so
// the join counts each key once.
func (db *DB) AppKeyTotals(ctx context.Context, now time.Time) ([]keygate.AppKeyTotal, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT k.app_id, count(DISTINCT k.user_id), count(*),
			count(*) FILTER (WHERE NOT k.disabled AND (k.expires_at IS NULL OR k.expires_at > $1)),
			coalesce(sum(c.micros), 0)::bigint, coalesce(sum(c.byok_micros), 0)::bigint
		FROM api_keys k
		LEFT JOIN usage_counters c ON c.key_hash = k.hash AND c.period = 'total'
		WHERE k.app_id IS NOT NULL
		GROUP BY k.app_id`, now)
	if err != nil {
		return nil, storeErr("app key totals", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (keygate.AppKeyTotal, error) {
		var t keygate.AppKeyTotal
		var n, b int64
		err := r.Scan(&t.AppID, &t.Users, &t.Keys, &t.Live, &n, &b)
		t.Micros, t.BYOKMicros = keygate.Micros(n), keygate.Micros(b)
		return t, err
	})
	return out, storeErr("app key totals", err)
}
