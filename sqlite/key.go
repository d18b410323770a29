package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/keygate/keygate"
)

// CreateKey inserts k. keygate.ErrConflict on a duplicate hash;
// keygate.ErrNotFound if its user, workspace or app does not exist.
func (db *DB) CreateKey(ctx context.Context, k *keygate.APIKey) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return db.insertKey(ctx, tx, k) })
	return storeErr("create key", err)
}

func (db *DB) insertKey(ctx context.Context, tx *sql.Tx, k *keygate.APIKey) error {
	_, err := tx.StmtContext(ctx, db.st.insertKey).ExecContext(ctx,
		k.Hash, k.UserID, k.WorkspaceID, nullIntPtr(k.AppID), nullString(k.ParentHash), k.Name, k.Label,
		k.IsManagement, k.Disabled, nullIntPtr(k.Limit), string(k.LimitReset), k.IncludeBYOK,
		nullMicros(k.ExpiresAt), nullStrPtr(k.ExternalUser), nullString(k.CreatorUserID),
		micros(k.CreatedAt), nullMicros(k.UpdatedAt))
	return err
}

const keyColumns = `hash, user_id, workspace_id, app_id, parent_hash, name, label,
	is_management, disabled, limit_micros, limit_reset, include_byok,
	expires_at, external_user, creator_user_id, created_at, updated_at`

// Key returns the key with hash, or keygate.ErrNotFound.
func (db *DB) Key(ctx context.Context, hash string) (*keygate.APIKey, error) {
	k, err := scanKey(db.st.key.QueryRowContext(ctx, hash))
	return k, storeErr("key", err)
}

// ListKeys returns the keys of f.UserID, in f.WorkspaceID only when it is
// set, without disabled keys unless f.IncludeDisabled, newest first, up to
// f.Limit (<= 0: no limit) after skipping f.Offset.
func (db *DB) ListKeys(ctx context.Context, f keygate.KeyFilter) ([]*keygate.APIKey, error) {
	var where strings.Builder
	args := []any{f.UserID}
	where.WriteString(`user_id = ?`)
	if f.WorkspaceID != "" {
		where.WriteString(` AND workspace_id = ?`)
		args = append(args, f.WorkspaceID)
	}
	if !f.IncludeDisabled {
		where.WriteString(` AND disabled = 0`)
	}
	args = append(args, sqlLimit(f.Limit), max(f.Offset, 0))
	rows, err := db.reader.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE `+where.String()+`
		ORDER BY created_at DESC, hash DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, storeErr("list keys", err)
	}
	defer rows.Close()
	var keys []*keygate.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, storeErr("list keys", err)
		}
		keys = append(keys, k)
	}
	return keys, storeErr("list keys", rows.Err())
}

// UpdateKey applies p to the key with hash, returns the key before and
// after, as keygate.KeyStore says, and announces the change
// (keygate.ChangeKey). keygate.ErrNotFound if there is none.
func (db *DB) UpdateKey(ctx context.Context, hash string, p keygate.KeyPatch) (before, after *keygate.APIKey, err error) {
	err = db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The write transaction holds the database's write lock from its
		// BEGIN IMMEDIATE on, so no other connection or process changes
		// the row between this read, which only reports the old values,
		// and the update, which computes every column from the stored row.
		var err error
		if before, err = scanKey(tx.QueryRowContext(ctx,
			`SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash)); err != nil {
			return err
		}
		after, err = scanKey(tx.QueryRowContext(ctx, `
			UPDATE api_keys SET
				name = coalesce(?1, name),
				label = coalesce(?2, label),
				disabled = coalesce(?3, disabled),
				limit_micros = CASE WHEN ?4 THEN ?5 ELSE limit_micros END,
				limit_reset = coalesce(?6, limit_reset),
				include_byok = coalesce(?7, include_byok),
				expires_at = CASE WHEN ?10 IS NOT NULL AND (expires_at IS NULL OR expires_at > ?10)
					THEN ?10 ELSE expires_at END,
				updated_at = CASE WHEN name IS NOT coalesce(?1, name)
						OR label IS NOT coalesce(?2, label)
						OR disabled IS NOT coalesce(?3, disabled)
						OR (?4 AND limit_micros IS NOT ?5)
						OR limit_reset IS NOT coalesce(?6, limit_reset)
						OR include_byok IS NOT coalesce(?7, include_byok)
						OR (?10 IS NOT NULL AND (expires_at IS NULL OR expires_at > ?10))
					THEN ?8 ELSE updated_at END
			WHERE hash = ?9
			RETURNING `+keyColumns,
			p.Name, p.Label, p.Disabled, p.SetLimit, nullIntPtr(p.Limit),
			p.LimitReset, p.IncludeBYOK, micros(p.UpdatedAt), hash, nullMicros(p.ExpiresAt)))
		if err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeKey, hash)
	})
	if err != nil {
		return nil, nil, storeErr("update key", err)
	}
	return before, after, nil
}

// DeleteKey deletes the key with hash and its usage counters (its usage
// events stay, as history), and announces the change (keygate.ChangeKey).
// keygate.ErrNotFound if there is none.
func (db *DB) DeleteKey(ctx context.Context, hash string) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE hash = ?`, hash)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM usage_counters WHERE key_hash = ?`, hash); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeKey, hash)
	})
	return storeErr("delete key", err)
}

func scanKey(row scanner) (*keygate.APIKey, error) {
	var k keygate.APIKey
	var appID, limit, expires, updated sql.Null[int64]
	var parent, external, creator sql.Null[string]
	var reset string
	var created int64
	if err := row.Scan(&k.Hash, &k.UserID, &k.WorkspaceID, &appID, &parent, &k.Name, &k.Label,
		&k.IsManagement, &k.Disabled, &limit, &reset, &k.IncludeBYOK,
		&expires, &external, &creator, &created, &updated); err != nil {
		return nil, err
	}
	k.AppID = intPtr[int64](appID)
	k.ParentHash = parent.V
	k.Limit = intPtr[keygate.Micros](limit)
	k.LimitReset = keygate.LimitReset(reset)
	k.ExpiresAt = timePtr(expires)
	k.ExternalUser = strPtr(external)
	k.CreatorUserID = creator.V
	k.CreatedAt = fromMicros(created)
	k.UpdatedAt = timePtr(updated)
	return &k, nil
}
