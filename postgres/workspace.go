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
// keygate.ErrNotFound if the user does not exist. A zero
// IOLoggingSamplingRate is stored as keygate.DefaultIOLoggingSamplingRate.
func (db *DB) CreateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	return storeErr("create workspace", insertWorkspace(ctx, db.pool, w))
}

// execer is the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertWorkspace(ctx context.Context, ex execer, w *keygate.Workspace) error {
	settings := w.WorkspaceSettings
	if settings.IOLoggingSamplingRate == 0 {
		settings.IOLoggingSamplingRate = keygate.DefaultIOLoggingSamplingRate
	}
	_, err := ex.Exec(ctx, `
		INSERT INTO workspaces (id, user_id, name, slug, description, is_default, created_at, updated_at,
			`+settingsColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		append([]any{w.ID, w.UserID, w.Name, w.Slug, w.Description, w.IsDefault, w.CreatedAt, w.UpdatedAt},
			settingsArgs(&settings)...)...)
	return err
}

// settingsColumns are the columns of keygate.WorkspaceSettings, in the
// order of settingsArgs and settingsDest. A nil list is NULL; an empty one
// stays '{}'.
const settingsColumns = `default_text_model, default_image_model, default_provider_sort,
	io_logging_api_key_ids, io_logging_sampling_rate, is_data_discount_logging_enabled,
	is_observability_broadcast_enabled, is_observability_io_logging_enabled, disabled_server_tools`

func settingsArgs(s *keygate.WorkspaceSettings) []any {
	return []any{s.DefaultTextModel, s.DefaultImageModel, s.DefaultProviderSort,
		s.IOLoggingAPIKeyIDs, s.IOLoggingSamplingRate, s.IsDataDiscountLoggingEnabled,
		s.IsObservabilityBroadcastEnabled, s.IsObservabilityIOLoggingEnabled, s.DisabledServerTools}
}

func settingsDest(s *keygate.WorkspaceSettings) []any {
	return []any{&s.DefaultTextModel, &s.DefaultImageModel, &s.DefaultProviderSort,
		&s.IOLoggingAPIKeyIDs, &s.IOLoggingSamplingRate, &s.IsDataDiscountLoggingEnabled,
		&s.IsObservabilityBroadcastEnabled, &s.IsObservabilityIOLoggingEnabled, &s.DisabledServerTools}
}

const workspaceColumns = `id, user_id, name, slug, description, is_default, created_at, updated_at, ` + settingsColumns

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
		dest := append([]any{&w.ID, &w.UserID, &w.Name, &w.Slug, &w.Description, &w.IsDefault,
			&w.CreatedAt, &w.UpdatedAt}, settingsDest(&w.WorkspaceSettings)...)
		if err := rows.Scan(append(dest, &total)...); err != nil {
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

// UpdateWorkspace writes w's Name, Slug, Description, settings and
// UpdatedAt. keygate.ErrNotFound if there is no workspace w.ID;
// keygate.ErrConflict if the user has another workspace with w.Slug.
func (db *DB) UpdateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	tag, err := db.pool.Exec(ctx, `
		UPDATE workspaces SET name = $1, slug = $2, description = $3, updated_at = $4,
			default_text_model = $5, default_image_model = $6, default_provider_sort = $7,
			io_logging_api_key_ids = $8, io_logging_sampling_rate = $9, is_data_discount_logging_enabled = $10,
			is_observability_broadcast_enabled = $11, is_observability_io_logging_enabled = $12,
			disabled_server_tools = $13
		WHERE id = $14`,
		append(append([]any{w.Name, w.Slug, w.Description, w.UpdatedAt}, settingsArgs(&w.WorkspaceSettings)...), w.ID)...)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("update workspace", err)
}

// DeleteWorkspace deletes the workspace with id, its authorization codes
// and its disabled keys with their usage counters, announces each deleted
// key on Channel, and returns the deleted keys' hashes.
// keygate.ErrConflict, deleting nothing, if it is the user's default or
// still holds an enabled key; keygate.ErrNotFound if there is none.
func (db *DB) DeleteWorkspace(ctx context.Context, id string) ([]string, error) {
	var deleted []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		// Locking the workspace row first keeps keys out: inserting a key
		// takes a share lock on it (the foreign key check), so a key
		// insert still running is waited for, and its key then counts
		// below; one that starts later waits for this transaction and
		// then finds no workspace (not found).
		var isDefault bool
		if err := tx.QueryRow(ctx,
			`SELECT is_default FROM workspaces WHERE id = $1 FOR UPDATE`, id).Scan(&isDefault); err != nil {
			return err // pgx.ErrNoRows: not found
		}
		if isDefault {
			return fmt.Errorf("%w: workspace is the default", keygate.ErrConflict)
		}
		// Enabling a key does not touch the workspace row, so the keys
		// themselves decide: the delete locks each disabled key, and one
		// enabled meanwhile is re-read, found enabled and kept; one
		// enabled later waits for this transaction and then finds no key.
		// Each deleted key is announced (pg_notify, delivered on commit).
		rows, err := tx.Query(ctx, `
			WITH changed AS (
				DELETE FROM api_keys WHERE workspace_id = $1 AND disabled RETURNING hash
			), counters AS (
				DELETE FROM usage_counters WHERE key_hash IN (SELECT hash FROM changed)
			) SELECT hash, pg_notify('`+Channel+`', '`+KindKey+`:' || hash) FROM changed`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h, nil); err != nil {
				rows.Close()
				return err
			}
			deleted = append(deleted, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// A new statement sees every key committed by now: what is left
		// is enabled, and refuses the delete (rolling the key deletes and
		// their announcements back). The ON DELETE RESTRICT foreign key of
		// api_keys is the second line of defense (23503, a conflict).
		tag, err := tx.Exec(ctx, `
			DELETE FROM workspaces
			WHERE id = $1 AND NOT is_default
			  AND NOT EXISTS (SELECT 1 FROM api_keys WHERE workspace_id = workspaces.id)`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: workspace holds enabled keys", keygate.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return nil, restrictErr("delete workspace", err)
	}
	return deleted, nil
}

func scanWorkspace(row scanner) (*keygate.Workspace, error) {
	var w keygate.Workspace
	dest := append([]any{&w.ID, &w.UserID, &w.Name, &w.Slug, &w.Description, &w.IsDefault,
		&w.CreatedAt, &w.UpdatedAt}, settingsDest(&w.WorkspaceSettings)...)
	if err := row.Scan(dest...); err != nil {
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
