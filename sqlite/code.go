package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/keygate/keygate"
)

// CreateAuthCode inserts c and appends audit (when not nil) in one
// transaction. keygate.ErrConflict on a duplicate hash;
// keygate.ErrNotFound if its user, workspace or app does not exist.
func (db *DB) CreateAuthCode(ctx context.Context, c *keygate.AuthCode, audit *keygate.AuditEvent) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, db.st.insertAuthCode).ExecContext(ctx,
			c.Hash, c.UserID, c.WorkspaceID, nullInt(c.AppID), nullString(c.ParentKeyHash), nullString(c.CreatorKeyHash),
			c.CallbackURL, c.CodeChallenge, c.CodeChallengeMethod,
			nullIntPtr(c.Limit), string(c.LimitReset), c.KeyLabel, nullMicros(c.KeyExpiresAt),
			micros(c.CreatedAt), micros(c.ExpiresAt), nullMicros(c.UsedAt), nullString(c.KeyHash))
		if err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	return storeErr("create auth code", err)
}

// AuthCode returns the code with hash, used or not, or keygate.ErrNotFound.
func (db *DB) AuthCode(ctx context.Context, hash string) (*keygate.AuthCode, error) {
	var c keygate.AuthCode
	var appID, limit, keyExpires, used sql.Null[int64]
	var parent, creator, keyHash sql.Null[string]
	var reset string
	var created, expires int64
	err := db.st.authCode.QueryRowContext(ctx, hash).Scan(
		&c.Hash, &c.UserID, &c.WorkspaceID, &appID, &parent, &creator,
		&c.CallbackURL, &c.CodeChallenge, &c.CodeChallengeMethod,
		&limit, &reset, &c.KeyLabel, &keyExpires,
		&created, &expires, &used, &keyHash)
	if err != nil {
		return nil, storeErr("auth code", err)
	}
	c.AppID = appID.V
	c.ParentKeyHash = parent.V
	c.CreatorKeyHash = creator.V
	c.Limit = intPtr[keygate.Micros](limit)
	c.LimitReset = keygate.LimitReset(reset)
	c.KeyExpiresAt = timePtr(keyExpires)
	c.CreatedAt = fromMicros(created)
	c.ExpiresAt = fromMicros(expires)
	c.UsedAt = timePtr(used)
	c.KeyHash = keyHash.V
	return &c, nil
}

// RedeemAuthCode marks the code with codeHash used at usedAt by key.Hash,
// inserts key and appends audit (when not nil), in one transaction. keygate.ErrCodeUsed if the code was
// already redeemed, keygate.ErrNotFound if there is no such code; either
// way nothing is inserted. If the key cannot be inserted (a duplicate hash
// is keygate.ErrConflict) the code stays unused.
func (db *DB) RedeemAuthCode(ctx context.Context, codeHash string, usedAt time.Time, key *keygate.APIKey, audit *keygate.AuditEvent) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The single gate of single use (RFC 6749 §4.1.2): the update
		// claims the row only while used_at is NULL, and SQLite runs it
		// under the database's write lock, so of any number of concurrent
		// exchanges, in this process or another on the same file, exactly
		// one sees a changed row. The checks the service made before (expiry,
		// PKCE) may be stale; this one cannot be.
		res, err := tx.StmtContext(ctx, db.st.redeemAuthCode).ExecContext(ctx,
			micros(usedAt), key.Hash, codeHash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return codeLost(ctx, tx, codeHash)
		}
		if err := db.insertKey(ctx, tx, key); err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	return storeErr("redeem auth code", err)
}

// codeLost tells why a redemption claimed no row: the code is used, or
// there is no such code.
func codeLost(ctx context.Context, tx *sql.Tx, codeHash string) error {
	var exists bool
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM auth_codes WHERE hash = ?)`, codeHash).Scan(&exists); err != nil {
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
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		t := micros(before)
		res, err := tx.ExecContext(ctx, `
			DELETE FROM auth_codes
			WHERE (used_at IS NULL AND expires_at < ?) OR used_at < ?`, t, t)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, storeErr("delete expired auth codes", err)
}
