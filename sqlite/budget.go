package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/keygate/keygate"
)

const budgetColumns = `id, workspace_id, reset_interval, limit_micros, include_byok, created_at, updated_at`

// PutWorkspaceBudget inserts b, or updates the limit of the workspace's
// budget of b.Interval (keeping its id and creation time, which it sets in
// b), writes b.IncludeBYOK to every budget of the workspace (with setBYOK;
// without, b takes the workspace's) and announces the change
// (keygate.ChangeBudget), in one write transaction.
// keygate.ErrNotFound if the workspace does not exist.
func (db *DB) PutWorkspaceBudget(ctx context.Context, b *keygate.WorkspaceBudget, setBYOK bool) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE id = ?`, b.WorkspaceID).Scan(&one); err != nil {
			return err
		}
		if !setBYOK {
			b.IncludeBYOK = false
			err := tx.QueryRowContext(ctx, `SELECT include_byok FROM workspace_budgets WHERE workspace_id = ? LIMIT 1`,
				b.WorkspaceID).Scan(&b.IncludeBYOK)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var id string
		var created int64
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO workspace_budgets (`+budgetColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id, reset_interval) DO UPDATE SET
				limit_micros = excluded.limit_micros, updated_at = excluded.updated_at
			RETURNING id, created_at`,
			b.ID, b.WorkspaceID, string(b.Interval), int64(b.Limit), b.IncludeBYOK,
			micros(b.CreatedAt), micros(b.UpdatedAt)).Scan(&id, &created); err != nil {
			return err
		}
		b.ID, b.CreatedAt, b.UpdatedAt = id, fromMicros(created), fromMicros(micros(b.UpdatedAt))
		if _, err := tx.ExecContext(ctx, `
			UPDATE workspace_budgets SET include_byok = ? WHERE workspace_id = ? AND include_byok <> ?`,
			b.IncludeBYOK, b.WorkspaceID, b.IncludeBYOK); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeBudget, b.WorkspaceID)
	})
	return storeErr("put workspace budget", err)
}

// WorkspaceBudgets returns the budgets of a workspace, lifetime first, then
// daily, weekly, monthly.
func (db *DB) WorkspaceBudgets(ctx context.Context, workspaceID string) ([]*keygate.WorkspaceBudget, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT `+budgetColumns+` FROM workspace_budgets WHERE workspace_id = ?
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
		var limit, created, updated int64
		if err := rows.Scan(&b.ID, &b.WorkspaceID, &interval, &limit, &b.IncludeBYOK, &created, &updated); err != nil {
			return nil, storeErr("workspace budgets", err)
		}
		b.Interval, b.Limit = keygate.LimitReset(interval), keygate.Micros(limit)
		b.CreatedAt, b.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, &b)
	}
	return out, storeErr("workspace budgets", rows.Err())
}

// DeleteWorkspaceBudget deletes the workspace's budget of interval and
// announces it (keygate.ChangeBudget). keygate.ErrNotFound if there is
// none.
func (db *DB) DeleteWorkspaceBudget(ctx context.Context, workspaceID string, interval keygate.LimitReset) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM workspace_budgets WHERE workspace_id = ? AND reset_interval = ?`, workspaceID, string(interval))
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeBudget, workspaceID)
	})
	return storeErr("delete workspace budget", err)
}
