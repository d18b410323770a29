package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/keygate/keygate"
)

// CreateWorkspace inserts w. keygate.ErrConflict if the user already has a
// workspace with w.Slug (or a default one, when w.IsDefault);
// keygate.ErrNotFound if the user does not exist. A zero
// IOLoggingSamplingRate is stored as keygate.DefaultIOLoggingSamplingRate.
func (db *DB) CreateWorkspace(ctx context.Context, w *keygate.Workspace) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return insertWorkspace(ctx, tx, w) })
	return storeErr("create workspace", err)
}

func insertWorkspace(ctx context.Context, tx *sql.Tx, w *keygate.Workspace) error {
	settings := w.WorkspaceSettings
	if settings.IOLoggingSamplingRate == 0 {
		settings.IOLoggingSamplingRate = keygate.DefaultIOLoggingSamplingRate
	}
	set, err := settingsArgs(&settings)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO workspaces (id, user_id, name, slug, description, is_default, created_at, updated_at,
			`+settingsColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append([]any{w.ID, w.UserID, w.Name, w.Slug, nullStrPtr(w.Description), w.IsDefault,
			micros(w.CreatedAt), nullMicros(w.UpdatedAt)}, set...)...)
	return err
}

// settingsColumns are the columns of keygate.WorkspaceSettings, in the
// order of settingsArgs and scanWorkspace. The two lists are JSON arrays;
// NULL is a nil list.
const settingsColumns = `default_text_model, default_image_model, default_provider_sort,
	io_logging_api_key_ids, io_logging_sampling_rate, is_data_discount_logging_enabled,
	is_observability_broadcast_enabled, is_observability_io_logging_enabled, disabled_server_tools`

func settingsArgs(s *keygate.WorkspaceSettings) ([]any, error) {
	ids, err := nullJSON(s.IOLoggingAPIKeyIDs)
	if err != nil {
		return nil, err
	}
	tools, err := nullJSON(s.DisabledServerTools)
	if err != nil {
		return nil, err
	}
	return []any{nullStrPtr(s.DefaultTextModel), nullStrPtr(s.DefaultImageModel), nullStrPtr(s.DefaultProviderSort),
		ids, s.IOLoggingSamplingRate, s.IsDataDiscountLoggingEnabled,
		s.IsObservabilityBroadcastEnabled, s.IsObservabilityIOLoggingEnabled, tools}, nil
}

// nullJSON encodes a list as a JSON array; nil is NULL, and an empty list
// stays "[]".
func nullJSON[T any](v []T) (sql.Null[string], error) {
	if v == nil {
		return sql.Null[string]{}, nil
	}
	b, err := json.Marshal(v)
	return sql.Null[string]{V: string(b), Valid: true}, err
}

// fromJSON decodes what nullJSON encoded.
func fromJSON[T any](n sql.Null[string]) ([]T, error) {
	if !n.Valid {
		return nil, nil
	}
	v := []T{}
	if err := json.Unmarshal([]byte(n.V), &v); err != nil {
		return nil, fmt.Errorf("decode %q: %w", n.V, err)
	}
	return v, nil
}

const workspaceColumns = `id, user_id, name, slug, description, is_default, created_at, updated_at, ` + settingsColumns

// Workspace returns the workspace with id, or keygate.ErrNotFound.
func (db *DB) Workspace(ctx context.Context, id string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.reader.QueryRowContext(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE id = ?`, id))
	return w, storeErr("workspace", err)
}

// DefaultWorkspace returns the user's default workspace, or
// keygate.ErrNotFound.
func (db *DB) DefaultWorkspace(ctx context.Context, userID string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.st.defaultWorkspace.QueryRowContext(ctx, userID))
	return w, storeErr("default workspace", err)
}

// WorkspaceBySlug returns the user's workspace with slug, or
// keygate.ErrNotFound.
func (db *DB) WorkspaceBySlug(ctx context.Context, userID, slug string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.reader.QueryRowContext(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE user_id = ? AND slug = ?`, userID, slug))
	return w, storeErr("workspace by slug", err)
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

// UpdateWorkspace applies p to the workspace with id and returns it as it
// is after, as keygate.WorkspaceStore says. keygate.ErrNotFound if there
// is none; keygate.ErrConflict if the user has another workspace with
// p.Slug.
func (db *DB) UpdateWorkspace(ctx context.Context, id string, p keygate.WorkspacePatch) (*keygate.Workspace, error) {
	ids, err := nullJSON(p.IOLoggingAPIKeyIDs)
	if err != nil {
		return nil, storeErr("update workspace", err)
	}
	tools, err := nullJSON(p.DisabledServerTools)
	if err != nil {
		return nil, storeErr("update workspace", err)
	}
	var w *keygate.Workspace
	err = db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// One statement under the database's write lock: every column is
		// computed from the row as stored, the ones p does not set kept
		// whatever a concurrent update wrote to them. In SET, a column
		// names its value before the update, so updated_at compares old
		// and new.
		var err error
		w, err = scanWorkspace(tx.QueryRowContext(ctx, `
			UPDATE workspaces SET
				name = coalesce(?1, name),
				slug = coalesce(?2, slug),
				description = CASE WHEN ?3 THEN ?4 ELSE description END,
				default_text_model = CASE WHEN ?5 THEN ?6 ELSE default_text_model END,
				default_image_model = CASE WHEN ?7 THEN ?8 ELSE default_image_model END,
				default_provider_sort = CASE WHEN ?9 THEN ?10 ELSE default_provider_sort END,
				io_logging_api_key_ids = CASE WHEN ?11 THEN ?12 ELSE io_logging_api_key_ids END,
				disabled_server_tools = CASE WHEN ?13 THEN ?14 ELSE disabled_server_tools END,
				io_logging_sampling_rate = coalesce(?15, io_logging_sampling_rate),
				is_data_discount_logging_enabled = coalesce(?16, is_data_discount_logging_enabled),
				is_observability_broadcast_enabled = coalesce(?17, is_observability_broadcast_enabled),
				is_observability_io_logging_enabled = coalesce(?18, is_observability_io_logging_enabled),
				updated_at = CASE WHEN name IS NOT coalesce(?1, name)
						OR slug IS NOT coalesce(?2, slug)
						OR (?3 AND description IS NOT ?4)
						OR (?5 AND default_text_model IS NOT ?6)
						OR (?7 AND default_image_model IS NOT ?8)
						OR (?9 AND default_provider_sort IS NOT ?10)
						OR (?11 AND io_logging_api_key_ids IS NOT ?12)
						OR (?13 AND disabled_server_tools IS NOT ?14)
						OR io_logging_sampling_rate IS NOT coalesce(?15, io_logging_sampling_rate)
						OR is_data_discount_logging_enabled IS NOT coalesce(?16, is_data_discount_logging_enabled)
						OR is_observability_broadcast_enabled IS NOT coalesce(?17, is_observability_broadcast_enabled)
						OR is_observability_io_logging_enabled IS NOT coalesce(?18, is_observability_io_logging_enabled)
					THEN ?19 ELSE updated_at END
			WHERE id = ?20
			RETURNING `+workspaceColumns,
			p.Name, p.Slug, p.SetDescription, nullStrPtr(p.Description),
			p.SetDefaultTextModel, nullStrPtr(p.DefaultTextModel),
			p.SetDefaultImageModel, nullStrPtr(p.DefaultImageModel),
			p.SetDefaultProviderSort, nullStrPtr(p.DefaultProviderSort),
			p.SetIOLoggingAPIKeyIDs, ids, p.SetDisabledServerTools, tools,
			p.IOLoggingSamplingRate, p.IsDataDiscountLoggingEnabled,
			p.IsObservabilityBroadcastEnabled, p.IsObservabilityIOLoggingEnabled,
			micros(p.UpdatedAt), id))
		return err
	})
	if err != nil {
		return nil, storeErr("update workspace", err)
	}
	return w, nil
}

// DeleteWorkspace deletes the workspace with id, its authorization codes
// and its disabled keys with their usage counters, announces each deleted
// key in the changes table, and returns the deleted keys' hashes.
// keygate.ErrConflict, deleting nothing, if it is the user's default or
// still holds an enabled key; keygate.ErrNotFound if there is none.
func (db *DB) DeleteWorkspace(ctx context.Context, id string) ([]string, error) {
	var deleted []string
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// All of it runs in one write transaction, which holds SQLite's
		// write lock from its first statement to its commit: no key can
		// be added to the workspace, or enabled, between the check and
		// the deletes. A refusal rolls the key deletes back. The ON DELETE
		// RESTRICT foreign key of api_keys is the second line of defense.
		var isDefault bool
		err := tx.QueryRowContext(ctx, `SELECT is_default FROM workspaces WHERE id = ?`, id).Scan(&isDefault)
		if err != nil {
			return err // sql.ErrNoRows: not found
		}
		if isDefault {
			return fmt.Errorf("%w: workspace is the default", keygate.ErrConflict)
		}
		rows, err := tx.QueryContext(ctx,
			`DELETE FROM api_keys WHERE workspace_id = ? AND disabled = 1 RETURNING hash`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			deleted = append(deleted, h)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			DELETE FROM workspaces
			WHERE id = ? AND is_default = 0
			  AND NOT EXISTS (SELECT 1 FROM api_keys WHERE workspace_id = workspaces.id AND disabled = 0)`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: workspace holds enabled keys", keygate.ErrConflict)
		}
		for _, h := range deleted {
			if _, err := tx.ExecContext(ctx, `DELETE FROM usage_counters WHERE key_hash = ?`, h); err != nil {
				return err
			}
			if err := announce(ctx, tx, keygate.ChangeKey, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("delete workspace", err)
	}
	for _, h := range deleted {
		db.journal.forget(h)
	}
	return deleted, nil
}

func scanWorkspace(row scanner) (*keygate.Workspace, error) {
	var w keygate.Workspace
	var desc, text, image, sort, ids, tools sql.Null[string]
	var created int64
	var updated sql.Null[int64]
	s := &w.WorkspaceSettings
	if err := row.Scan(&w.ID, &w.UserID, &w.Name, &w.Slug, &desc, &w.IsDefault, &created, &updated,
		&text, &image, &sort, &ids, &s.IOLoggingSamplingRate, &s.IsDataDiscountLoggingEnabled,
		&s.IsObservabilityBroadcastEnabled, &s.IsObservabilityIOLoggingEnabled, &tools); err != nil {
		return nil, err
	}
	w.Description = strPtr(desc)
	w.CreatedAt = fromMicros(created)
	w.UpdatedAt = timePtr(updated)
	s.DefaultTextModel, s.DefaultImageModel, s.DefaultProviderSort = strPtr(text), strPtr(image), strPtr(sort)
	var err error
	if s.IOLoggingAPIKeyIDs, err = fromJSON[int64](ids); err != nil {
		return nil, fmt.Errorf("workspace %s: io_logging_api_key_ids: %w", w.ID, err)
	}
	if s.DisabledServerTools, err = fromJSON[string](tools); err != nil {
		return nil, fmt.Errorf("workspace %s: disabled_server_tools: %w", w.ID, err)
	}
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
