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

// KeyWithUsage returns the key with hash and its stored counters among
// want, in one statement. keygate.ErrNotFound if there is no such key.
func (db *DB) KeyWithUsage(ctx context.Context, hash string, want []keygate.UsageCounter) (*keygate.APIKey, []keygate.UsageCounter, error) {
	if len(want) != 4 {
		// Only the four counters of Counters have a prepared statement;
		// anything else is two reads.
		k, err := db.Key(ctx, hash)
		if err != nil {
			return nil, nil, err
		}
		counters, err := db.UsageCounters(ctx, hash, want)
		return k, counters, err
	}
	journaled := db.journal.sumsOf(want) // first, as in UsageCounters
	args := make([]any, 0, 9)
	for _, c := range want {
		args = append(args, c.Period, micros(c.Start))
	}
	rows, err := db.st.keyWithUsage.QueryContext(ctx, append(args, hash)...)
	if err != nil {
		return nil, nil, storeErr("key with usage", err)
	}
	defer rows.Close()
	var k *keygate.APIKey
	var counters []keygate.UsageCounter
	for rows.Next() {
		var c counterColumns
		key, err := scanKey(rows, c.dest()...)
		if err != nil {
			return nil, nil, storeErr("key with usage", err)
		}
		if k == nil {
			k = key
		}
		if c.period.Valid {
			counters = append(counters, keygate.UsageCounter{KeyHash: hash, Period: c.period.V,
				Start: fromMicros(c.start.V), Micros: keygate.Micros(c.micros.V), BYOKMicros: keygate.Micros(c.byok.V)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, storeErr("key with usage", err)
	}
	if k == nil {
		return nil, nil, keygate.ErrNotFound
	}
	return k, withJournal(hash, counters, journaled), nil
}

// counterColumns are the counter columns of a sqlKeyWithUsage row,
// NULL when the key has no counter.
type counterColumns struct {
	period              sql.Null[string]
	start, micros, byok sql.Null[int64]
}

func (c *counterColumns) dest() []any { return []any{&c.period, &c.start, &c.micros, &c.byok} }

// keyColumnsK is keyColumns of the table aliased k.
const keyColumnsK = `k.hash, k.user_id, k.workspace_id, k.app_id, k.parent_hash, k.name, k.label,
	k.is_management, k.disabled, k.limit_micros, k.limit_reset, k.include_byok,
	k.expires_at, k.external_user, k.creator_user_id, k.created_at, k.updated_at`

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
	if err == nil {
		db.journal.forget(hash)
	}
	return storeErr("delete key", err)
}

func scanKey(row scanner, extra ...any) (*keygate.APIKey, error) {
	var k keygate.APIKey
	var appID, limit, expires, updated sql.Null[int64]
	var parent, external, creator sql.Null[string]
	var reset string
	var created int64
	dest := append([]any{&k.Hash, &k.UserID, &k.WorkspaceID, &appID, &parent, &k.Name, &k.Label,
		&k.IsManagement, &k.Disabled, &limit, &reset, &k.IncludeBYOK,
		&expires, &external, &creator, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
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
