package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/keygate/keygate"
)

// CreateKey inserts k. keygate.ErrConflict on a duplicate hash;
// keygate.ErrNotFound if its user, workspace or app does not exist.
func (db *DB) CreateKey(ctx context.Context, k *keygate.APIKey) error {
	return storeErr("create key", insertKey(ctx, db.pool, k))
}

func insertKey(ctx context.Context, ex execer, k *keygate.APIKey) error {
	_, err := ex.Exec(ctx, `
		INSERT INTO api_keys (hash, user_id, workspace_id, app_id, parent_hash, name, label,
			is_management, disabled, limit_micros, limit_reset, include_byok,
			expires_at, external_user, creator_user_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		k.Hash, k.UserID, k.WorkspaceID, k.AppID, nullString(k.ParentHash), k.Name, k.Label,
		k.IsManagement, k.Disabled, microsPtr(k.Limit), string(k.LimitReset), k.IncludeBYOK,
		k.ExpiresAt, k.ExternalUser, nullString(k.CreatorUserID), k.CreatedAt, k.UpdatedAt)
	return err
}

const keyColumns = `hash, user_id, workspace_id, app_id, parent_hash, name, label,
	is_management, disabled, limit_micros, limit_reset, include_byok,
	expires_at, external_user, creator_user_id, created_at, updated_at`

// Key returns the key with hash, or keygate.ErrNotFound.
func (db *DB) Key(ctx context.Context, hash string) (*keygate.APIKey, error) {
	k, err := scanKey(db.pool.QueryRow(ctx,
		`SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
	return k, storeErr("key", err)
}

// ListKeys returns the keys of f.UserID, in f.WorkspaceID only when it is
// set, without disabled keys unless f.IncludeDisabled, newest first (ties
// broken by hash, descending), up to f.Limit (<= 0: no limit) after
// skipping f.Offset.
func (db *DB) ListKeys(ctx context.Context, f keygate.KeyFilter) ([]*keygate.APIKey, error) {
	var where strings.Builder
	args := []any{f.UserID}
	where.WriteString(`user_id = $1`)
	if f.WorkspaceID != "" {
		args = append(args, f.WorkspaceID)
		where.WriteString(` AND workspace_id = $` + strconv.Itoa(len(args)))
	}
	if !f.IncludeDisabled {
		where.WriteString(` AND NOT disabled`)
	}
	args = append(args, sqlLimit(f.Limit), max(f.Offset, 0))
	rows, err := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE `+where.String()+`
		ORDER BY created_at DESC, hash DESC
		LIMIT $`+strconv.Itoa(len(args)-1)+` OFFSET $`+strconv.Itoa(len(args)), args...)
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
// IncludeBYOK and UpdatedAt, and announces the change (KindKey).
// keygate.ErrNotFound if there is no key k.Hash.
func (db *DB) UpdateKey(ctx context.Context, k *keygate.APIKey) error {
	tag, err := db.pool.Exec(ctx, `
		WITH changed AS (
			UPDATE api_keys SET name = $1, label = $2, disabled = $3, limit_micros = $4,
				limit_reset = $5, include_byok = $6, updated_at = $7
			WHERE hash = $8
			RETURNING hash
		) `+notifyKeys,
		k.Name, k.Label, k.Disabled, microsPtr(k.Limit),
		string(k.LimitReset), k.IncludeBYOK, k.UpdatedAt, k.Hash)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("update key", err)
}

// DeleteKey deletes the key with hash and its usage counters (its usage
// events stay, as history), and announces the change (KindKey).
// keygate.ErrNotFound if there is none.
func (db *DB) DeleteKey(ctx context.Context, hash string) error {
	// One statement: every data-modifying WITH clause runs to completion,
	// all in one transaction.
	tag, err := db.pool.Exec(ctx, `
		WITH changed AS (
			DELETE FROM api_keys WHERE hash = $1 RETURNING hash
		), counters AS (
			DELETE FROM usage_counters WHERE key_hash IN (SELECT hash FROM changed)
		) `+notifyKeys, hash)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("delete key", err)
}

func scanKey(row scanner) (*keygate.APIKey, error) {
	var k keygate.APIKey
	var limit *int64
	var parent, creator *string
	var reset string
	if err := row.Scan(&k.Hash, &k.UserID, &k.WorkspaceID, &k.AppID, &parent, &k.Name, &k.Label,
		&k.IsManagement, &k.Disabled, &limit, &reset, &k.IncludeBYOK,
		&k.ExpiresAt, &k.ExternalUser, &creator, &k.CreatedAt, &k.UpdatedAt); err != nil {
		return nil, err
	}
	k.ParentHash = str(parent)
	k.Limit = toMicros(limit)
	k.LimitReset = keygate.LimitReset(reset)
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	k.CreatorUserID = str(creator)
	k.CreatedAt, k.UpdatedAt = utc(k.CreatedAt), utcPtr(k.UpdatedAt)
	return &k, nil
}
