package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/keygate/keygate"
)

// AppTotals returns every app with usage in the days [from, to), with its
// requests and tokens there.
func (db *DB) AppTotals(ctx context.Context, from, to time.Time) ([]keygate.AppTotal, error) {
	if err := db.Flush(ctx); err != nil {
		return nil, storeErr("app totals", err)
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT `+prefixed("a.", appColumns)+`, t.requests, t.tokens
		FROM (SELECT app_id, sum(requests) AS requests, sum(prompt_tokens + completion_tokens) AS tokens
			FROM app_usage_daily WHERE day >= ? AND day < ? GROUP BY app_id) t
		JOIN apps a ON a.id = t.app_id`, micros(from), micros(to))
	if err != nil {
		return nil, storeErr("app totals", err)
	}
	defer rows.Close()
	var out []keygate.AppTotal
	for rows.Next() {
		var t keygate.AppTotal
		var err error
		if t.App, err = scanApp(rows, &t.Requests, &t.Tokens); err != nil {
			return nil, storeErr("app totals", err)
		}
		out = append(out, t)
	}
	return out, storeErr("app totals", rows.Err())
}

// AppDays returns the rollup rows of one app in the days [from, to).
func (db *DB) AppDays(ctx context.Context, appID int64, from, to time.Time) ([]keygate.AppDay, error) {
	if err := db.Flush(ctx); err != nil {
		return nil, storeErr("app days", err)
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT day, model, requests, prompt_tokens, completion_tokens FROM app_usage_daily
		WHERE app_id = ? AND day >= ? AND day < ?`, appID, micros(from), micros(to))
	if err != nil {
		return nil, storeErr("app days", err)
	}
	defer rows.Close()
	var out []keygate.AppDay
	for rows.Next() {
		d := keygate.AppDay{AppID: appID}
		var day int64
		if err := rows.Scan(&day, &d.Model, &d.Requests, &d.PromptTokens, &d.CompletionTokens); err != nil {
			return nil, storeErr("app days", err)
		}
		d.Day = fromMicros(day)
		out = append(out, d)
	}
	return out, storeErr("app days", rows.Err())
}

// UserDays returns the rollup rows of one user in the days [from, to).
func (db *DB) UserDays(ctx context.Context, userID string, from, to time.Time) ([]keygate.UserDay, error) {
	if err := db.Flush(ctx); err != nil {
		return nil, storeErr("user days", err)
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT day, workspace_id, key_hash, model, provider, requests, prompt_tokens,
			completion_tokens, reasoning_tokens, micros, byok_micros
		FROM user_usage_daily WHERE user_id = ? AND day >= ? AND day < ?`, userID, micros(from), micros(to))
	if err != nil {
		return nil, storeErr("user days", err)
	}
	defer rows.Close()
	var out []keygate.UserDay
	for rows.Next() {
		d := keygate.UserDay{UserID: userID}
		var day int64
		if err := rows.Scan(&day, &d.WorkspaceID, &d.KeyHash, &d.Model, &d.Provider, &d.Requests,
			&d.PromptTokens, &d.CompletionTokens, &d.ReasoningTokens, &d.Micros, &d.BYOKMicros); err != nil {
			return nil, storeErr("user days", err)
		}
		d.Day = fromMicros(day)
		out = append(out, d)
	}
	return out, storeErr("user days", rows.Err())
}

// AddCreditGrant inserts g and announces it (keygate.ChangeCredits).
func (db *DB) AddCreditGrant(ctx context.Context, g *keygate.CreditGrant) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO credit_grants (user_id, amount_micros, note, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`,
			g.UserID, int64(g.Amount), g.Note, micros(g.CreatedAt)).Scan(&g.ID); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeCredits, g.UserID)
	})
	return storeErr("add credit grant", err)
}

// CreditGrants returns a user's grants, oldest first.
func (db *DB) CreditGrants(ctx context.Context, userID string) ([]*keygate.CreditGrant, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT id, amount_micros, note, created_at FROM credit_grants
		WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, storeErr("credit grants", err)
	}
	defer rows.Close()
	var out []*keygate.CreditGrant
	for rows.Next() {
		g := &keygate.CreditGrant{UserID: userID}
		var created int64
		if err := rows.Scan(&g.ID, &g.Amount, &g.Note, &created); err != nil {
			return nil, storeErr("credit grants", err)
		}
		g.CreatedAt = fromMicros(created)
		out = append(out, g)
	}
	return out, storeErr("credit grants", rows.Err())
}
