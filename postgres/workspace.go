package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keygate/keygate"
)

// CreateWorkspace inserts w. keygate.ErrConflict if the user already has a
// workspace with w.Slug (or a default one, when w.IsDefault);
// keygate.ErrNotFound if the user does not exist.
func (db *DB) CreateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	return storeErr("create workspace", insertWorkspace(ctx, db.pool, w))
}

// execer is the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertWorkspace(ctx context.Context, ex execer, w *keygate.Workspace) error {
	_, err := ex.Exec(ctx, `
		INSERT INTO workspaces (id, user_id, name, slug, description, is_default, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		w.ID, w.UserID, w.Name, w.Slug, w.Description, w.IsDefault, w.CreatedAt, w.UpdatedAt)
	return err
}

const workspaceColumns = `id, user_id, name, slug, description, is_default, created_at, updated_at`

// Workspace returns the workspace with id, or keygate.ErrNotFound.
func (db *DB) Workspace(ctx context.Context, id string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.pool.QueryRow(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE id = $1`, id))
	return w, storeErr("workspace", err)
}

// DefaultWorkspace returns the user's default workspace, or
// keygate.ErrNotFound.
func (db *DB) DefaultWorkspace(ctx context.Context, userID string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.pool.QueryRow(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE user_id = $1 AND is_default`, userID))
	return w, storeErr("default workspace", err)
}

// ListWorkspaces returns up to limit of the user's workspaces, oldest first,
// after skipping offset, and how many the user has in all. A limit <= 0
// means no limit.
func (db *DB) ListWorkspaces(ctx context.Context, userID string, offset, limit int) ([]*keygate.Workspace, int, error) {
	// The count comes with every row (and is lost when the page is past
	// the end, hence the second query), so both see one snapshot.
	rows, err := db.pool.Query(ctx, `
		SELECT `+workspaceColumns+`, count(*) OVER ()
		FROM workspaces WHERE user_id = $1
		ORDER BY created_at, id LIMIT $2 OFFSET $3`,
		userID, sqlLimit(limit), max(offset, 0))
	if err != nil {
		return nil, 0, storeErr("list workspaces", err)
	}
	defer rows.Close()
	var list []*keygate.Workspace
	total := -1
	for rows.Next() {
		var w keygate.Workspace
		if err := rows.Scan(&w.ID, &w.UserID, &w.Name, &w.Slug, &w.Description, &w.IsDefault,
			&w.CreatedAt, &w.UpdatedAt, &total); err != nil {
			return nil, 0, storeErr("list workspaces", err)
		}
		w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utcPtr(w.UpdatedAt)
		list = append(list, &w)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, storeErr("list workspaces", err)
	}
	if total < 0 {
		if err := db.pool.QueryRow(ctx,
			`SELECT count(*) FROM workspaces WHERE user_id = $1`, userID).Scan(&total); err != nil {
			return nil, 0, storeErr("list workspaces", err)
		}
	}
	return list, total, nil
}

// UpdateWorkspace writes w's Name, Slug, Description and UpdatedAt.
// keygate.ErrNotFound if there is no workspace w.ID; keygate.ErrConflict if
// the user has another workspace with w.Slug.
func (db *DB) UpdateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	tag, err := db.pool.Exec(ctx, `
		UPDATE workspaces SET name = $1, slug = $2, description = $3, updated_at = $4
		WHERE id = $5`,
		w.Name, w.Slug, w.Description, w.UpdatedAt, w.ID)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("update workspace", err)
}

// DeleteWorkspace deletes the workspace with id and its authorization
// codes. keygate.ErrConflict if it is the user's default or still holds
// keys; keygate.ErrNotFound if there is none.
func (db *DB) DeleteWorkspace(ctx context.Context, id string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		// The guard and the delete are one statement. A key inserted
		// concurrently holds a share lock on the workspace row (its
		// foreign key check), so the delete waits for that insert to end;
		// if the key committed, the ON DELETE RESTRICT foreign key of
		// api_keys, checked against the latest committed rows, refuses
		// the delete (23503, a conflict). A key inserted after the delete
		// took its row lock waits, then finds no workspace (not found).
		tag, err := tx.Exec(ctx, `
			DELETE FROM workspaces
			WHERE id = $1 AND NOT is_default
			  AND NOT EXISTS (SELECT 1 FROM api_keys WHERE workspace_id = workspaces.id)`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var exists bool
		if err := tx.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return keygate.ErrNotFound
		}
		return fmt.Errorf("%w: workspace is the default or holds keys", keygate.ErrConflict)
	})
	return restrictErr("delete workspace", err)
}

func scanWorkspace(row scanner) (*keygate.Workspace, error) {
	var w keygate.Workspace
	if err := row.Scan(&w.ID, &w.UserID, &w.Name, &w.Slug, &w.Description, &w.IsDefault,
		&w.CreatedAt, &w.UpdatedAt); err != nil {
		return nil, err
	}
	w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utcPtr(w.UpdatedAt)
	return &w, nil
}

// oneRow returns keygate.ErrNotFound unless the statement changed a row.
func oneRow(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return keygate.ErrNotFound
	}
	return nil
}

// sqlLimit turns "no limit" (limit <= 0) into NULL, which PostgreSQL reads
// as LIMIT ALL.
func sqlLimit(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}
