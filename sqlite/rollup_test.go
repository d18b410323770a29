package sqlite_test

import (
	"testing"

	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/storetest"
)

// TestRollupsRecomputed: after concurrent metering across a UTC midnight
// and late usage reports, the rollups and the account counters are, row
// for row, what SQL computes from the stored generations (the queries of
// migration 00008, which builds them for generations stored before it).
func TestRollupsRecomputed(t *testing.T) {
	db := openTemp(t)
	n := storetest.Meter(t, db)
	if err := db.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, reader := sqlite.Pools(db)
	var gens int
	if err := reader.QueryRow(`SELECT count(*) FROM generations`).Scan(&gens); err != nil {
		t.Fatal(err)
	}
	if gens != n {
		t.Fatalf("%d generations stored, want %d", gens, n)
	}
	for _, c := range []struct{ name, stored, computed string }{
		{"app rollups", `
			SELECT day, app_id, model, requests, prompt_tokens, completion_tokens FROM app_usage_daily`, `
			SELECT created_at - (created_at % 86400000000), app_id, model,
				count(*), sum(prompt_tokens), sum(completion_tokens)
			FROM generations WHERE app_id IS NOT NULL GROUP BY 1, 2, 3`},
		{"user rollups", `
			SELECT user_id, day, workspace_id, key_hash, model, provider, requests, prompt_tokens,
				completion_tokens, reasoning_tokens, micros, byok_micros FROM user_usage_daily`, `
			SELECT user_id, created_at - (created_at % 86400000000), workspace_id, key_hash, model, provider,
				count(*), sum(prompt_tokens), sum(completion_tokens), sum(reasoning_tokens),
				sum(CASE WHEN byok = 0 THEN cost_micros ELSE 0 END),
				sum(CASE WHEN byok = 1 THEN cost_micros ELSE 0 END)
			FROM generations GROUP BY 1, 2, 3, 4, 5, 6`},
		{"account counters", `
			SELECT key_hash, micros, byok_micros FROM usage_counters WHERE key_hash LIKE 'user:%'`, `
			SELECT 'user:' || user_id, sum(CASE WHEN byok = 0 THEN cost_micros ELSE 0 END),
				sum(CASE WHEN byok = 1 THEN cost_micros ELSE 0 END)
			FROM generations GROUP BY user_id`},
	} {
		var stored, computed, missing, extra int
		for _, q := range []struct {
			dst *int
			sql string
		}{
			{&stored, `SELECT count(*) FROM (` + c.stored + `)`},
			{&computed, `SELECT count(*) FROM (` + c.computed + `)`},
			{&missing, `SELECT count(*) FROM (` + c.computed + ` EXCEPT ` + c.stored + `)`},
			{&extra, `SELECT count(*) FROM (` + c.stored + ` EXCEPT ` + c.computed + `)`},
		} {
			if err := reader.QueryRow(q.sql).Scan(q.dst); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if stored == 0 || stored != computed || missing != 0 || extra != 0 {
			t.Errorf("%s: %d rows stored, %d computed from generations; %d computed rows missing, %d stored rows extra",
				c.name, stored, computed, missing, extra)
		}
		t.Logf("%s: %d rows, equal to the generations' sums", c.name, stored)
	}
}
