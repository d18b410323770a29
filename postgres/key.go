package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate"
)

// CreateKey inserts k. keygate.ErrConflict on a duplicate hash;
// keygate.ErrNotFound if its user, workspace or app does not exist.
func (db *DB) CreateKey(ctx context.Context, k *keygate.APIKey) error {
	return storeErr("create key", insertKey(ctx, db.pool, k))
}

func insertKey(ctx context.Context, ex execer, k *keygate.APIKey) error {
	_, err := ex.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (`+keyValues(1)+`)`, keyArgs(k)...)
	return err
}

// keyArgs are k's values for keyColumns.
func keyArgs(k *keygate.APIKey) []any {
	return []any{k.Hash, k.UserID, k.WorkspaceID, k.AppID, nullString(k.ParentHash), k.Name, k.Label,
		k.IsManagement, k.Disabled, microsPtr(k.Limit), string(k.LimitReset), k.IncludeBYOK,
		k.ExpiresAt, k.ExternalUser, nullString(k.CreatorUserID), k.CreatedAt, k.UpdatedAt}
}

// keyValues is a list of keyColumns' parameters from $first on, typed, so
// that it can stand in a SELECT list as well as in VALUES.
func keyValues(first int) string {
	types := []string{"text", "text", "text", "bigint", "text", "text", "text",
		"boolean", "boolean", "bigint", "text", "boolean",
		"timestamptz", "text", "text", "timestamptz", "timestamptz"}
	return typedParams(first, types)
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

// KeyWithUsage returns the key with hash and its stored counters among
// want, in one statement. keygate.ErrNotFound if there is no such key.
func (db *DB) KeyWithUsage(ctx context.Context, hash string, want []keygate.UsageCounter) (*keygate.APIKey, []keygate.UsageCounter, error) {
	periods, starts := make([]string, len(want)), make([]time.Time, len(want))
	for i, c := range want {
		periods[i], starts[i] = c.Period, c.Start
	}
	// One row per stored counter, or one with NULL counter columns.
	rows, err := db.pool.Query(ctx, `
		SELECT `+keyColumnsK+`, c.period, c.period_start, c.micros, c.byok_micros
		FROM api_keys k LEFT JOIN usage_counters c ON c.key_hash = k.hash
			AND (c.period, c.period_start) IN (SELECT * FROM unnest($2::text[], $3::timestamptz[]))
		WHERE k.hash = $1`, hash, periods, starts)
	if err != nil {
		return nil, nil, storeErr("key with usage", err)
	}
	defer rows.Close()
	var k *keygate.APIKey
	var counters []keygate.UsageCounter
	for rows.Next() {
		var period *string
		var start *time.Time
		var n, b *int64
		key, err := scanKey(rows, &period, &start, &n, &b)
		if err != nil {
			return nil, nil, storeErr("key with usage", err)
		}
		if k == nil {
			k = key
		}
		if period != nil {
			counters = append(counters, keygate.UsageCounter{KeyHash: hash, Period: *period,
				Start: start.UTC(), Micros: keygate.Micros(*n), BYOKMicros: keygate.Micros(*b)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, storeErr("key with usage", err)
	}
	if k == nil {
		return nil, nil, keygate.ErrNotFound
	}
	return k, counters, nil
}

// keyColumnsK is keyColumns of the table aliased k.
const keyColumnsK = `k.hash, k.user_id, k.workspace_id, k.app_id, k.parent_hash, k.name, k.label,
	k.is_management, k.disabled, k.limit_micros, k.limit_reset, k.include_byok,
	k.expires_at, k.external_user, k.creator_user_id, k.created_at, k.updated_at`

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

// UpdateKey applies p to the key with hash, returns the key before and
// after, as keygate.KeyStore says, and announces the change (keygate.ChangeKey).
// keygate.ErrNotFound if there is none.
func (db *DB) UpdateKey(ctx context.Context, hash string, p keygate.KeyPatch) (before, after *keygate.APIKey, err error) {
	// One statement. The first WITH clause locks the row and reads the
	// values it holds before the update: when a concurrent update holds
	// the lock, FOR UPDATE waits for it to commit and reads the row it
	// left, and the UPDATE, rechecking the same row, computes every column
	// from that version too. Columns that p does not set keep their value,
	// whatever a concurrent update wrote to them.
	var old struct {
		name, label    string
		disabled, byok bool
		limit          *int64
		reset          string
		updatedAt      *time.Time
		expiresAt      *time.Time
	}
	var reset *string
	if p.LimitReset != nil {
		reset = (*string)(p.LimitReset)
	}
	after, err = scanKey(db.pool.QueryRow(ctx, `
		WITH old AS (
			SELECT hash, name, label, disabled, limit_micros, limit_reset, include_byok, updated_at, expires_at
			FROM api_keys WHERE hash = $1 FOR UPDATE
		), changed AS (
			UPDATE api_keys k SET
				name = coalesce($2::text, k.name),
				label = coalesce($3::text, k.label),
				disabled = coalesce($4::boolean, k.disabled),
				limit_micros = CASE WHEN $5::boolean THEN $6::bigint ELSE k.limit_micros END,
				limit_reset = coalesce($7::text, k.limit_reset),
				include_byok = coalesce($8::boolean, k.include_byok),
				expires_at = CASE WHEN $10::timestamptz IS NOT NULL AND (k.expires_at IS NULL OR k.expires_at > $10::timestamptz)
					THEN $10::timestamptz ELSE k.expires_at END,
				updated_at = CASE WHEN
						(k.name, k.label, k.disabled, k.limit_micros, k.limit_reset, k.include_byok)
						IS DISTINCT FROM
						(coalesce($2::text, k.name), coalesce($3::text, k.label), coalesce($4::boolean, k.disabled),
						 CASE WHEN $5::boolean THEN $6::bigint ELSE k.limit_micros END,
						 coalesce($7::text, k.limit_reset), coalesce($8::boolean, k.include_byok))
						OR ($10::timestamptz IS NOT NULL AND (k.expires_at IS NULL OR k.expires_at > $10::timestamptz))
					THEN $9 ELSE k.updated_at END
			FROM old WHERE k.hash = old.hash
			RETURNING k.hash, k.user_id, k.workspace_id, k.app_id, k.parent_hash, k.name, k.label,
				k.is_management, k.disabled, k.limit_micros, k.limit_reset, k.include_byok,
				k.expires_at, k.external_user, k.creator_user_id, k.created_at, k.updated_at,
				old.name AS old_name, old.label AS old_label, old.disabled AS old_disabled,
				old.limit_micros AS old_limit_micros, old.limit_reset AS old_limit_reset,
				old.include_byok AS old_include_byok, old.updated_at AS old_updated_at,
				old.expires_at AS old_expires_at
		)
		SELECT `+keyColumns+`,
			old_name, old_label, old_disabled, old_limit_micros, old_limit_reset, old_include_byok, old_updated_at,
			old_expires_at,
			pg_notify('`+Channel+`', '`+keygate.ChangeKey+`:' || hash)
		FROM changed`,
		hash, p.Name, p.Label, p.Disabled, p.SetLimit, microsPtr(p.Limit), reset, p.IncludeBYOK, p.UpdatedAt, p.ExpiresAt),
		&old.name, &old.label, &old.disabled, &old.limit, &old.reset, &old.byok, &old.updatedAt, &old.expiresAt, nil)
	if err != nil {
		return nil, nil, storeErr("update key", err)
	}
	b := *after
	b.Name, b.Label, b.Disabled, b.IncludeBYOK = old.name, old.label, old.disabled, old.byok
	b.Limit, b.LimitReset, b.UpdatedAt = toMicros(old.limit), keygate.LimitReset(old.reset), utcPtr(old.updatedAt)
	b.ExpiresAt = utcPtr(old.expiresAt)
	return &b, after, nil
}

// DeleteKey deletes the key with hash and its usage counters (its usage
// events stay, as history), and announces the change (keygate.ChangeKey).
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

// scanKey reads the keyColumns of row, and then into extra.
func scanKey(row scanner, extra ...any) (*keygate.APIKey, error) {
	var k keygate.APIKey
	var limit *int64
	var parent, creator *string
	var reset string
	dest := append([]any{&k.Hash, &k.UserID, &k.WorkspaceID, &k.AppID, &parent, &k.Name, &k.Label,
		&k.IsManagement, &k.Disabled, &limit, &reset, &k.IncludeBYOK,
		&k.ExpiresAt, &k.ExternalUser, &creator, &k.CreatedAt, &k.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
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
