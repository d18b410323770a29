package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

// AppTotals returns every app with usage in the days [from, to), with its
// requests and tokens there.
func (db *DB) AppTotals(ctx context.Context, from, to time.Time) ([]keygate.AppTotal, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+prefixed("a.", appColumns)+`, t.requests, t.tokens
		FROM (SELECT app_id, sum(requests)::bigint AS requests,
				sum(prompt_tokens + completion_tokens)::bigint AS tokens
			FROM app_usage_daily WHERE day >= $1 AND day < $2 GROUP BY app_id) t
		JOIN apps a ON a.id = t.app_id`, from, to)
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
	rows, err := db.pool.Query(ctx, `
		SELECT day, model, requests, prompt_tokens, completion_tokens FROM app_usage_daily
		WHERE app_id = $1 AND day >= $2 AND day < $3`, appID, from, to)
	if err != nil {
		return nil, storeErr("app days", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (keygate.AppDay, error) {
		d := keygate.AppDay{AppID: appID}
		err := row.Scan(&d.Day, &d.Model, &d.Requests, &d.PromptTokens, &d.CompletionTokens)
		d.Day = utc(d.Day)
		return d, err
	})
	return out, storeErr("app days", err)
}

// UserDays returns the rollup rows of one user in the days [from, to).
func (db *DB) UserDays(ctx context.Context, userID string, from, to time.Time) ([]keygate.UserDay, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT day, workspace_id, key_hash, model, provider, requests, prompt_tokens,
			completion_tokens, reasoning_tokens, micros, byok_micros
		FROM user_usage_daily WHERE user_id = $1 AND day >= $2 AND day < $3`, userID, from, to)
	if err != nil {
		return nil, storeErr("user days", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (keygate.UserDay, error) {
		d := keygate.UserDay{UserID: userID}
		err := row.Scan(&d.Day, &d.WorkspaceID, &d.KeyHash, &d.Model, &d.Provider, &d.Requests,
			&d.PromptTokens, &d.CompletionTokens, &d.ReasoningTokens, &d.Micros, &d.BYOKMicros)
		d.Day = utc(d.Day)
		return d, err
	})
	return out, storeErr("user days", err)
}

// AddCreditGrant inserts g and announces it (keygate.ChangeCredits).
func (db *DB) AddCreditGrant(ctx context.Context, g *keygate.CreditGrant) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO credit_grants (user_id, amount_micros, note, created_at)
			VALUES ($1, $2, $3, $4) RETURNING id`,
			g.UserID, int64(g.Amount), g.Note, g.CreatedAt).Scan(&g.ID); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeCredits, g.UserID)
	})
	return storeErr("add credit grant", err)
}

// CreditGrants returns a user's grants, oldest first.
func (db *DB) CreditGrants(ctx context.Context, userID string) ([]*keygate.CreditGrant, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, amount_micros, note, created_at FROM credit_grants
		WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, storeErr("credit grants", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*keygate.CreditGrant, error) {
		g := &keygate.CreditGrant{UserID: userID}
		err := row.Scan(&g.ID, &g.Amount, &g.Note, &g.CreatedAt)
		g.CreatedAt = utc(g.CreatedAt)
		return g, err
	})
	return out, storeErr("credit grants", err)
}

// prefixed returns the comma-separated columns cols, each prefixed with p
// (a table alias and a dot).
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
