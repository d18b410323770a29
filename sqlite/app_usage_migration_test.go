package sqlite_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestAppUsageMigration: migration 00008 builds the daily rollups and the
// account counters of the generations stored before it, and can be rolled
// back and done again.
func TestAppUsageMigration(t *testing.T) {
	ctx := t.Context()
	path, raw, p := migratedTo(t, 7)
	day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	us := func(d time.Duration) int64 { return day.Add(d).UnixMicro() }
	gen := `INSERT INTO generations (id, key_hash, user_id, workspace_id, app_id, model, upstream_model, provider,
		endpoint, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_micros, upstream_cost_micros,
		byok, cost_estimated, streamed, cancelled, finish_reason, latency_us, generation_time_us, created_at)
		VALUES (?, 'k1', 'u1', 'w1', ?, 'm', 'm', 'p', 'chat/completions', ?, ?, 1, 0, ?, 0, ?, 0, 0, 0, 'stop', 0, 0, ?)`
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'old@example.com', 'h', 1)`, nil},
		{`INSERT INTO apps (id, url, title, created_at) VALUES (1, 'https://a.example', 'A', 1)`, nil},
		{gen, []any{"g1", 1, 10, 20, 35, 0, us(time.Hour)}},
		{gen, []any{"g2", 1, 1, 2, 5, 0, us(23*time.Hour + 59*time.Minute)}},
		{gen, []any{"g3", 1, 100, 0, 7, 1, us(24 * time.Hour)}}, // the next day, BYOK
		{gen, []any{"g4", nil, 3, 3, 11, 0, us(2 * time.Hour)}}, // no app
	} {
		if _, err := raw.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatalf("migrating down from 8: %v", err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, path) // migrates up again, to the latest
	apps, err := db.AppDays(ctx, 1, day, day.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]keygate.AppDay{
		"2026-03-03": {AppID: 1, Day: day, Model: "m", Requests: 2, PromptTokens: 11, CompletionTokens: 22},
		"2026-03-04": {AppID: 1, Day: day.AddDate(0, 0, 1), Model: "m", Requests: 1, PromptTokens: 100},
	}
	if len(apps) != len(want) {
		t.Fatalf("app rollups = %+v, want %d rows", apps, len(want))
	}
	for _, a := range apps {
		if w := want[a.Day.Format(time.DateOnly)]; a != w {
			t.Errorf("app rollup %+v, want %+v", a, w)
		}
	}
	users, err := db.UserDays(ctx, "u1", day, day.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	var requests int64
	var paid, byok keygate.Micros
	for _, u := range users {
		requests += u.Requests
		paid += u.Micros
		byok += u.BYOKMicros
	}
	if len(users) != 2 || requests != 4 || paid != 51 || byok != 7 {
		t.Errorf("user rollups = %+v, want 2 rows, 4 requests, 51 paid, 7 BYOK", users)
	}
	acct := keygate.UsageCounter{KeyHash: keygate.AccountCounter("u1"), Period: keygate.PeriodTotal, Start: time.Unix(0, 0).UTC()}
	got, err := db.UsageCounters(ctx, acct.KeyHash, []keygate.UsageCounter{acct})
	if err != nil || len(got) != 1 || got[0].Micros != 51 || got[0].BYOKMicros != 7 {
		t.Errorf("account counter = %+v, %v; want 51 paid, 7 BYOK", got, err)
	}
}
