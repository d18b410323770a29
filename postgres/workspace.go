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

// WorkspaceBySlug returns the user's workspace with slug, or
// keygate.ErrNotFound.
func (db *DB) WorkspaceBySlug(ctx context.Context, userID, slug string) (*keygate.Workspace, error) {
	w, err := scanWorkspace(db.pool.QueryRow(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE user_id = $1 AND slug = $2`, userID, slug))
	return w, storeErr("workspace by slug", err)
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

// UpdateWorkspace applies p to the workspace with id and returns it as it
// is after, as keygate.WorkspaceStore says. keygate.ErrNotFound if there
// is none; keygate.ErrConflict if the user has another workspace with
// p.Slug.
func (db *DB) UpdateWorkspace(ctx context.Context, id string, p keygate.WorkspacePatch) (*keygate.Workspace, error) {
	// One statement. When a concurrent update holds the row, this one
	// waits for it to commit and then (READ COMMITTED) evaluates SET on
	// the row that update left: the columns p does not set keep what it
	// wrote. In SET, a column names its value before the update, so
	// updated_at compares old and new.
	w, err := scanWorkspace(db.pool.QueryRow(ctx, `
		UPDATE workspaces SET
			name = coalesce($1::text, name),
			slug = coalesce($2::text, slug),
			description = CASE WHEN $3::boolean THEN $4::text ELSE description END,
			default_text_model = CASE WHEN $5::boolean THEN $6::text ELSE default_text_model END,
			default_image_model = CASE WHEN $7::boolean THEN $8::text ELSE default_image_model END,
			default_provider_sort = CASE WHEN $9::boolean THEN $10::text ELSE default_provider_sort END,
			io_logging_api_key_ids = CASE WHEN $11::boolean THEN $12::bigint[] ELSE io_logging_api_key_ids END,
			disabled_server_tools = CASE WHEN $13::boolean THEN $14::text[] ELSE disabled_server_tools END,
			io_logging_sampling_rate = coalesce($15::double precision, io_logging_sampling_rate),
			is_data_discount_logging_enabled = coalesce($16::boolean, is_data_discount_logging_enabled),
			is_observability_broadcast_enabled = coalesce($17::boolean, is_observability_broadcast_enabled),
			is_observability_io_logging_enabled = coalesce($18::boolean, is_observability_io_logging_enabled),
			updated_at = CASE WHEN
					(name, slug, description, default_text_model, default_image_model, default_provider_sort,
					 io_logging_api_key_ids, disabled_server_tools, io_logging_sampling_rate,
					 is_data_discount_logging_enabled, is_observability_broadcast_enabled,
					 is_observability_io_logging_enabled)
					IS DISTINCT FROM
					(coalesce($1::text, name), coalesce($2::text, slug),
					 CASE WHEN $3::boolean THEN $4::text ELSE description END,
					 CASE WHEN $5::boolean THEN $6::text ELSE default_text_model END,
					 CASE WHEN $7::boolean THEN $8::text ELSE default_image_model END,
					 CASE WHEN $9::boolean THEN $10::text ELSE default_provider_sort END,
					 CASE WHEN $11::boolean THEN $12::bigint[] ELSE io_logging_api_key_ids END,
					 CASE WHEN $13::boolean THEN $14::text[] ELSE disabled_server_tools END,
					 coalesce($15::double precision, io_logging_sampling_rate),
					 coalesce($16::boolean, is_data_discount_logging_enabled),
					 coalesce($17::boolean, is_observability_broadcast_enabled),
					 coalesce($18::boolean, is_observability_io_logging_enabled))
				THEN $19 ELSE updated_at END
		WHERE id = $20
		RETURNING `+workspaceColumns,
		p.Name, p.Slug, p.SetDescription, p.Description,
		p.SetDefaultTextModel, p.DefaultTextModel,
		p.SetDefaultImageModel, p.DefaultImageModel,
		p.SetDefaultProviderSort, p.DefaultProviderSort,
		p.SetIOLoggingAPIKeyIDs, p.IOLoggingAPIKeyIDs, p.SetDisabledServerTools, p.DisabledServerTools,
		p.IOLoggingSamplingRate, p.IsDataDiscountLoggingEnabled,
		p.IsObservabilityBroadcastEnabled, p.IsObservabilityIOLoggingEnabled,
		p.UpdatedAt, id))
	if err != nil {
		return nil, storeErr("update workspace", err)
	}
	return w, nil
}

// DeleteWorkspace deletes the workspace with id, its authorization codes
// and its disabled keys with their usage counters, announces each deleted
// key on Channel, and returns the deleted keys' hashes.
// keygate.ErrConflict, deleting nothing, if it is the user's default or
// still holds an enabled key; keygate.ErrNotFound if there is none.
func (db *DB) DeleteWorkspace(ctx context.Context, id string) ([]string, error) {
	var deleted []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		deleted = nil // tx may run this again
		// The workspace's codes are locked before the workspace, the
		// order in which a redemption takes them: it claims its code row,
		// then inserts a key, which takes a share lock on the workspace
		// row (the foreign key check). The other order, workspace first
		// and codes at the cascading delete, would deadlock with it. A
		// redemption that claimed its code first is waited for here, and
		// its key then counts below; one that starts later waits for this
		// transaction and then finds no code (not found).
		if _, err := tx.Exec(ctx,
			`SELECT FROM auth_codes WHERE workspace_id = $1 ORDER BY hash FOR UPDATE`, id); err != nil {
			return err
		}
		// Locking the workspace row keeps keys out: inserting a key takes
		// a share lock on it, so a key insert still running is waited for,
		// and its key then counts below; one that starts later waits for
		// this transaction and then finds no workspace (not found).
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
			) SELECT hash, pg_notify('`+Channel+`', '`+keygate.ChangeKey+`:' || hash) FROM changed`, id)
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
