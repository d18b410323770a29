package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/storetest"
)

// TestRollupsRecomputed: after concurrent metering across a UTC midnight
// and late usage reports, the rollups and the account counters are, row
// for row, what SQL computes from the stored generations (the queries of
// migration 00008, which builds them for generations stored before it).
func TestRollupsRecomputed(t *testing.T) {
	db := pgtest.Open(t)
	n := storetest.Meter(t, db)
	day := `date_trunc('day', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`
	err := db.Tx(t.Context(), func(tx pgx.Tx) error {
		var gens int
		if err := tx.QueryRow(t.Context(), `SELECT count(*) FROM generations`).Scan(&gens); err != nil {
			return err
		}
		if gens != n {
			t.Fatalf("%d generations stored, want %d", gens, n)
		}
		for _, c := range []struct{ name, stored, computed string }{
			{"app rollups", `
				SELECT day, app_id, model, requests, prompt_tokens, completion_tokens FROM app_usage_daily`, `
				SELECT ` + day + `, app_id, model, count(*), sum(prompt_tokens), sum(completion_tokens)
				FROM generations WHERE app_id IS NOT NULL GROUP BY 1, 2, 3`},
			{"user rollups", `
				SELECT user_id, day, workspace_id, key_hash, model, provider, requests, prompt_tokens,
					completion_tokens, reasoning_tokens, micros, byok_micros FROM user_usage_daily`, `
				SELECT user_id, ` + day + `, workspace_id, key_hash, model, provider,
					count(*), sum(prompt_tokens), sum(completion_tokens), sum(reasoning_tokens),
					sum(CASE WHEN byok THEN 0 ELSE cost_micros END),
					sum(CASE WHEN byok THEN cost_micros ELSE 0 END)
				FROM generations GROUP BY 1, 2, 3, 4, 5, 6`},
			{"account counters", `
				SELECT key_hash, micros, byok_micros FROM usage_counters WHERE key_hash LIKE 'user:%'`, `
				SELECT 'user:' || user_id, sum(CASE WHEN byok THEN 0 ELSE cost_micros END),
					sum(CASE WHEN byok THEN cost_micros ELSE 0 END)
				FROM generations GROUP BY user_id`},
		} {
			var stored, computed, missing, extra int
			for _, q := range []struct {
				dst *int
				sql string
			}{
				{&stored, `SELECT count(*) FROM (` + c.stored + `) s`},
				{&computed, `SELECT count(*) FROM (` + c.computed + `) c`},
				{&missing, `SELECT count(*) FROM (` + c.computed + ` EXCEPT ` + c.stored + `) d`},
				{&extra, `SELECT count(*) FROM (` + c.stored + ` EXCEPT ` + c.computed + `) d`},
			} {
				if err := tx.QueryRow(t.Context(), q.sql).Scan(q.dst); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
			}
			if stored == 0 || stored != computed || missing != 0 || extra != 0 {
				t.Errorf("%s: %d rows stored, %d computed from generations; %d computed rows missing, %d stored rows extra",
					c.name, stored, computed, missing, extra)
			}
			t.Logf("%s: %d rows, equal to the generations' sums", c.name, stored)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
