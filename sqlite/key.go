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
	err := db.write(ctx, func(tx *sql.Tx) error { return insertKey(ctx, tx, k) })
	return storeErr("create key", err)
}

func insertKey(ctx context.Context, tx *sql.Tx, k *keygate.APIKey) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO api_keys (hash, user_id, workspace_id, app_id, parent_hash, name, label,
			is_management, disabled, limit_micros, limit_reset, include_byok,
			expires_at, external_user, creator_user_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
	k, err := scanKey(db.reader.QueryRowContext(ctx,
		`SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
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

// UpdateKey writes k's Name, Label, Disabled, Limit, LimitReset,
// IncludeBYOK and UpdatedAt. keygate.ErrNotFound if there is no key k.Hash.
func (db *DB) UpdateKey(ctx context.Context, k *keygate.APIKey) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE api_keys SET name = ?, label = ?, disabled = ?, limit_micros = ?,
				limit_reset = ?, include_byok = ?, updated_at = ?
			WHERE hash = ?`,
			k.Name, k.Label, k.Disabled, nullIntPtr(k.Limit),
			string(k.LimitReset), k.IncludeBYOK, nullMicros(k.UpdatedAt), k.Hash)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return storeErr("update key", err)
}

// DeleteKey deletes the key with hash and its usage counters (its usage
// events stay, as history). keygate.ErrNotFound if there is none.
func (db *DB) DeleteKey(ctx context.Context, hash string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE hash = ?`, hash)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM usage_counters WHERE key_hash = ?`, hash)
		return err
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
