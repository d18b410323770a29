package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keygate/keygate"
)

// CreateWorkspace inserts w. keygate.ErrConflict if the user already has a
// workspace with w.Slug (or a default one, when w.IsDefault);
// keygate.ErrNotFound if the user does not exist.
func (db *DB) CreateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	err := db.write(ctx, func(tx *sql.Tx) error { return insertWorkspace(ctx, tx, w) })
	return storeErr("create workspace", err)
}

func insertWorkspace(ctx context.Context, tx *sql.Tx, w *keygate.Workspace) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO workspaces (id, user_id, name, slug, description, is_default, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.UserID, w.Name, w.Slug, nullStrPtr(w.Description), w.IsDefault,
		micros(w.CreatedAt), nullMicros(w.UpdatedAt))
	return err
}

const workspaceColumns = `id, user_id, name, slug, description, is_default, created_at, updated_at`

// Workspace returns the workspace with id, or keygate.ErrNotFound.
func (db *DB) Workspace(ctx context.Context, id string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.reader.QueryRowContext(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE id = ?`, id))
	return w, storeErr("workspace", err)
}

// DefaultWorkspace returns the user's default workspace, or
// keygate.ErrNotFound.
func (db *DB) DefaultWorkspace(ctx context.Context, userID string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.reader.QueryRowContext(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE user_id = ? AND is_default = 1`, userID))
	return w, storeErr("default workspace", err)
}

// ListWorkspaces returns up to limit of the user's workspaces, oldest first,
// after skipping offset, and how many the user has in all. A limit <= 0
// means no limit.
func (db *DB) ListWorkspaces(ctx context.Context, userID string, offset, limit int) ([]*keygate.Workspace, int, error) {
	var list []*keygate.Workspace
	var total int
	err := db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM workspaces WHERE user_id = ?`, userID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+workspaceColumns+` FROM workspaces WHERE user_id = ?
			ORDER BY created_at, id LIMIT ? OFFSET ?`,
			userID, sqlLimit(limit), max(offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			w, err := scanWorkspace(rows)
			if err != nil {
				return err
			}
			list = append(list, w)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, storeErr("list workspaces", err)
	}
	return list, total, nil
}

// UpdateWorkspace writes w's Name, Slug, Description and UpdatedAt.
// keygate.ErrNotFound if there is no workspace w.ID; keygate.ErrConflict if
// the user has another workspace with w.Slug.
func (db *DB) UpdateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE workspaces SET name = ?, slug = ?, description = ?, updated_at = ?
			WHERE id = ?`,
			w.Name, w.Slug, nullStrPtr(w.Description), nullMicros(w.UpdatedAt), w.ID)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return storeErr("update workspace", err)
}

// DeleteWorkspace deletes the workspace with id and its authorization
// codes. keygate.ErrConflict if it is the user's default or still holds
// keys; keygate.ErrNotFound if there is none.
func (db *DB) DeleteWorkspace(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		// The guard and the delete are one statement, inside a write
		// transaction that holds SQLite's write lock: no key can be added
		// between the check and the delete. The ON DELETE RESTRICT
		// foreign key of api_keys is the second line of defense.
		res, err := tx.ExecContext(ctx, `
			DELETE FROM workspaces
			WHERE id = ? AND is_default = 0
			  AND NOT EXISTS (SELECT 1 FROM api_keys WHERE workspace_id = workspaces.id)`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = ?)`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return keygate.ErrNotFound
		}
		return fmt.Errorf("%w: workspace is the default or holds keys", keygate.ErrConflict)
	})
	return storeErr("delete workspace", err)
}

func scanWorkspace(row scanner) (*keygate.Workspace, error) {
	var w keygate.Workspace
	var desc sql.Null[string]
	var created int64
	var updated sql.Null[int64]
	if err := row.Scan(&w.ID, &w.UserID, &w.Name, &w.Slug, &desc, &w.IsDefault, &created, &updated); err != nil {
		return nil, err
	}
	w.Description = strPtr(desc)
	w.CreatedAt = fromMicros(created)
	w.UpdatedAt = timePtr(updated)
	return &w, nil
}

// oneRow returns keygate.ErrNotFound unless res changed a row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return keygate.ErrNotFound
	}
	return nil
}

// sqlLimit turns "no limit" (limit <= 0) into SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}
