package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

// CreateAuthCode inserts c and appends audit (when not nil) in one
// statement, and so one transaction and one round trip.
// keygate.ErrConflict on a duplicate hash; keygate.ErrNotFound if its
// user, workspace or app does not exist.
func (db *DB) CreateAuthCode(ctx context.Context, c *keygate.AuthCode, audit *keygate.AuditEvent) error {
	args := []any{c.Hash, c.UserID, c.WorkspaceID, nullInt(c.AppID), nullString(c.ParentKeyHash), nullString(c.CreatorKeyHash),
		c.CallbackURL, c.CodeChallenge, c.CodeChallengeMethod,
		microsPtr(c.Limit), string(c.LimitReset), c.KeyLabel, c.KeyExpiresAt,
		c.CreatedAt, c.ExpiresAt, c.UsedAt, nullString(c.KeyHash)}
	if audit == nil {
		_, err := db.pool.Exec(ctx, sqlInsertAuthCode, args...)
		return storeErr("create auth code", err)
	}
	err := db.pool.QueryRow(ctx, sqlInsertAuthCodeAudited, append(args, auditArgs(audit)...)...).Scan(&audit.ID)
	return storeErr("create auth code", err)
}

// sqlInsertAuthCodeAudited inserts a code ($1…$17) and its audit event
// ($18…$24) in one statement.
var sqlInsertAuthCodeAudited = `
		WITH code AS (` + sqlInsertAuthCode + ` RETURNING 1)
		INSERT INTO audit_events (` + auditColumns + `)
		SELECT ` + auditSelect(18) + ` FROM code
		RETURNING id`

const sqlInsertAuthCode = `
		INSERT INTO auth_codes (hash, user_id, workspace_id, app_id, parent_key_hash, creator_key_hash,
			callback_url, code_challenge, code_challenge_method,
			limit_micros, limit_reset, key_label, key_expires_at,
			created_at, expires_at, used_at, key_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

// AuthCode returns the code with hash, used or not, or keygate.ErrNotFound.
func (db *DB) AuthCode(ctx context.Context, hash string) (*keygate.AuthCode, error) {
	var c keygate.AuthCode
	var appID, limit *int64
	var parent, creator, keyHash *string
	var reset string
	err := db.pool.QueryRow(ctx, `
		SELECT hash, user_id, workspace_id, app_id, parent_key_hash, creator_key_hash,
			callback_url, code_challenge, code_challenge_method,
			limit_micros, limit_reset, key_label, key_expires_at,
			created_at, expires_at, used_at, key_hash
		FROM auth_codes WHERE hash = $1`, hash).Scan(
		&c.Hash, &c.UserID, &c.WorkspaceID, &appID, &parent, &creator,
		&c.CallbackURL, &c.CodeChallenge, &c.CodeChallengeMethod,
		&limit, &reset, &c.KeyLabel, &c.KeyExpiresAt,
		&c.CreatedAt, &c.ExpiresAt, &c.UsedAt, &keyHash)
	if err != nil {
		return nil, storeErr("auth code", err)
	}
	if appID != nil {
		c.AppID = *appID
	}
	c.ParentKeyHash = str(parent)
	c.CreatorKeyHash = str(creator)
	c.Limit = toMicros(limit)
	c.LimitReset = keygate.LimitReset(reset)
	c.KeyExpiresAt = utcPtr(c.KeyExpiresAt)
	c.CreatedAt, c.ExpiresAt = utc(c.CreatedAt), utc(c.ExpiresAt)
	c.UsedAt = utcPtr(c.UsedAt)
	c.KeyHash = str(keyHash)
	return &c, nil
}

// RedeemAuthCode marks the code with codeHash used at usedAt by key.Hash,
// inserts key and appends audit (when not nil), in one statement: one
// transaction and one round trip. keygate.ErrCodeUsed if the code was
// already redeemed, keygate.ErrNotFound if there is no such code; either
// way nothing is inserted. If the key cannot be inserted (a duplicate hash
// is keygate.ErrConflict) the statement fails whole and the code stays
// unused.
func (db *DB) RedeemAuthCode(ctx context.Context, codeHash string, usedAt time.Time, key *keygate.APIKey, audit *keygate.AuditEvent) error {
	// The single gate of single use (RFC 6749 §4.1.2) is the UPDATE. It
	// takes the code row's lock; a concurrent redemption, from this pool
	// or another replica's, waits for that lock, and once the winner
	// commits PostgreSQL re-checks "used_at IS NULL" against the committed
	// row (READ COMMITTED), finds it false and changes nothing. If the
	// winner fails instead (its key could not be inserted), the waiter
	// claims the row. So exactly one statement ever sees a changed row,
	// and only that one inserts the key (FROM claimed) and the audit event
	// (FROM minted). The checks the service made before (expiry, PKCE) may
	// be stale; this one cannot be.
	args := append([]any{usedAt, codeHash, audit != nil}, keyArgs(key)...)
	ev := &keygate.AuditEvent{}
	if audit != nil {
		ev = audit
	}
	args = append(args, auditArgs(ev)...)
	var minted int
	var auditID *int64
	err := db.pool.QueryRow(ctx, sqlRedeemAuthCode, args...).Scan(&minted, &auditID)
	if err != nil {
		return storeErr("redeem auth code", err)
	}
	if minted == 0 {
		return storeErr("redeem auth code", codeLost(ctx, db.pool, codeHash))
	}
	if audit != nil && auditID != nil {
		audit.ID = *auditID
	}
	return nil
}

// sqlRedeemAuthCode claims a code ($1 used_at, $2 its hash), inserts the
// key ($4…$20, keyColumns) and, when $3, the audit event ($21…$27); it
// answers how many keys it inserted and the event's id.
var sqlRedeemAuthCode = `
		WITH claimed AS (
			UPDATE auth_codes SET used_at = $1, key_hash = $4 WHERE hash = $2 AND used_at IS NULL
			RETURNING 1
		), minted AS (
			INSERT INTO api_keys (` + keyColumns + `)
			SELECT ` + keyValues(4) + ` FROM claimed
			RETURNING 1
		), audited AS (
			INSERT INTO audit_events (` + auditColumns + `)
			SELECT ` + auditSelect(21) + ` FROM minted WHERE $3::boolean
			RETURNING id
		)
		SELECT (SELECT count(*) FROM minted), (SELECT id FROM audited)`

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// codeLost tells why a redemption claimed no row: the code is used, or
// there is no such code.
func codeLost(ctx context.Context, q querier, codeHash string) error {
	var exists bool
	if err := q.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM auth_codes WHERE hash = $1)`, codeHash).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return keygate.ErrCodeUsed
	}
	return keygate.ErrNotFound
}

// DeleteExpiredAuthCodes deletes the unused codes whose ExpiresAt is before
// t and the used ones whose UsedAt is before t, and returns how many it
// deleted. A used code is kept until then so that a replay of it can still
// be recognised and its key disabled.
func (db *DB) DeleteExpiredAuthCodes(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `
		DELETE FROM auth_codes
		WHERE (used_at IS NULL AND expires_at < $1) OR used_at < $1`, before)
	if err != nil {
		return 0, storeErr("delete expired auth codes", err)
	}
	return tag.RowsAffected(), nil
}
