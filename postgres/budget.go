package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

const budgetColumns = `id, workspace_id, reset_interval, limit_micros, include_byok, created_at, updated_at`

// PutWorkspaceBudget inserts b, or updates the limit of the workspace's
// budget of b.Interval (keeping its id and creation time, which it sets in
// b), writes b.IncludeBYOK to every budget of the workspace (with setBYOK;
// without, b takes the workspace's) and announces the change
// (keygate.ChangeBudget), in one transaction. The workspace's
// row is locked first, so that concurrent puts on one workspace, from any
// replicas, take turns. keygate.ErrNotFound if the workspace does not
// exist.
func (db *DB) PutWorkspaceBudget(ctx context.Context, b *keygate.WorkspaceBudget, setBYOK bool) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE`, b.WorkspaceID).Scan(&one); err != nil {
			return err
		}
		if !setBYOK {
			b.IncludeBYOK = false
			err := tx.QueryRow(ctx, `SELECT include_byok FROM workspace_budgets WHERE workspace_id = $1 LIMIT 1`,
				b.WorkspaceID).Scan(&b.IncludeBYOK)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO workspace_budgets (`+budgetColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (workspace_id, reset_interval) DO UPDATE SET
				limit_micros = excluded.limit_micros, updated_at = excluded.updated_at
			RETURNING id, created_at`,
			b.ID, b.WorkspaceID, string(b.Interval), int64(b.Limit), b.IncludeBYOK,
			b.CreatedAt, b.UpdatedAt).Scan(&b.ID, &b.CreatedAt); err != nil {
			return err
		}
		b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
		if _, err := tx.Exec(ctx, `
			UPDATE workspace_budgets SET include_byok = $1 WHERE workspace_id = $2 AND include_byok <> $1`,
			b.IncludeBYOK, b.WorkspaceID); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeBudget, b.WorkspaceID)
	})
	return storeErr("put workspace budget", err)
}

// WorkspaceBudgets returns the budgets of a workspace, lifetime first, then
// daily, weekly, monthly.
func (db *DB) WorkspaceBudgets(ctx context.Context, workspaceID string) ([]*keygate.WorkspaceBudget, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+budgetColumns+` FROM workspace_budgets WHERE workspace_id = $1
		ORDER BY CASE reset_interval WHEN '' THEN 0 WHEN 'daily' THEN 1 WHEN 'weekly' THEN 2 ELSE 3 END`,
		workspaceID)
	if err != nil {
		return nil, storeErr("workspace budgets", err)
	}
	defer rows.Close()
	var out []*keygate.WorkspaceBudget
	for rows.Next() {
		var b keygate.WorkspaceBudget
		var interval string
		var limit int64
		if err := rows.Scan(&b.ID, &b.WorkspaceID, &interval, &limit, &b.IncludeBYOK, &b.CreatedAt, &b.UpdatedAt); err != nil {
			return nil, storeErr("workspace budgets", err)
		}
		b.Interval, b.Limit = keygate.LimitReset(interval), keygate.Micros(limit)
		b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
		out = append(out, &b)
	}
	return out, storeErr("workspace budgets", rows.Err())
}

// DeleteWorkspaceBudget deletes the workspace's budget of interval and
// announces it (keygate.ChangeBudget). keygate.ErrNotFound if there is
// none.
func (db *DB) DeleteWorkspaceBudget(ctx context.Context, workspaceID string, interval keygate.LimitReset) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`DELETE FROM workspace_budgets WHERE workspace_id = $1 AND reset_interval = $2`, workspaceID, string(interval))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return announce(ctx, tx, keygate.ChangeBudget, workspaceID)
	})
	return storeErr("delete workspace budget", err)
}
