package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/keygate/keygate"
)

const linkColumns = `hash, kind, user_id, created_by, note, created_at, expires_at, used_at`

// CreateAccountLink inserts l. keygate.ErrConflict on a duplicate hash.
func (db *DB) CreateAccountLink(ctx context.Context, l *keygate.AccountLink) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO account_links (`+linkColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			l.Hash, l.Kind, l.UserID, l.CreatedBy, l.Note, micros(l.CreatedAt), micros(l.ExpiresAt), nullMicros(l.UsedAt))
		return err
	})
	return storeErr("create account link", err)
}

// AccountLink returns the link with hash, or keygate.ErrNotFound.
func (db *DB) AccountLink(ctx context.Context, hash string) (*keygate.AccountLink, error) {
	l, err := scanLink(db.reader.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM account_links WHERE hash = ?`, hash))
	return l, storeErr("account link", err)
}

// ListAccountLinks returns the unused links of kind expiring after now,
// newest first, at most limit.
func (db *DB) ListAccountLinks(ctx context.Context, kind string, now time.Time, limit int) ([]*keygate.AccountLink, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+linkColumns+` FROM account_links
		WHERE kind = ? AND used_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, hash LIMIT ?`, kind, micros(now), sqlLimit(limit))
	if err != nil {
		return nil, storeErr("list account links", err)
	}
	defer rows.Close()
	var out []*keygate.AccountLink
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, storeErr("list account links", err)
		}
		out = append(out, l)
	}
	return out, storeErr("list account links", rows.Err())
}

// claimLink is the single gate of a link's single use: the update claims
// the row only while it is unused and unexpired, under the database's
// write lock, so of concurrent redemptions, in this process or another on
// the same file, exactly one sees a changed row. It returns
// keygate.ErrCodeUsed when the link exists but is used or expired.
func claimLink(ctx context.Context, tx *sql.Tx, hash, kind, userID string, usedAt time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE account_links SET used_at = ?, user_id = coalesce(nullif(?, ''), user_id)
		WHERE hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?`,
		micros(usedAt), userID, hash, kind, micros(usedAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM account_links WHERE hash = ? AND kind = ?)`, hash, kind).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return keygate.ErrCodeUsed
	}
	return keygate.ErrNotFound
}

// RedeemInvite claims the invite and creates u with ws, in one
// transaction (keygate.AccountStore).
func (db *DB) RedeemInvite(ctx context.Context, hash string, usedAt time.Time, u *keygate.User, ws *keygate.Workspace) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := claimLink(ctx, tx, hash, keygate.LinkInvite, u.ID, usedAt); err != nil {
			return err
		}
		return insertUser(ctx, tx, u, ws)
	})
	return storeErr("redeem invite", err)
}

// RedeemPasswordReset claims the reset link, sets its user's password and
// ends the user's sessions, in one transaction (keygate.AccountStore).
func (db *DB) RedeemPasswordReset(ctx context.Context, hash string, usedAt time.Time, passwordHash string) (*keygate.User, error) {
	var u *keygate.User
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := claimLink(ctx, tx, hash, keygate.LinkReset, "", usedAt); err != nil {
			return err
		}
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `UPDATE users SET password_hash = ?
			WHERE id = (SELECT user_id FROM account_links WHERE hash = ?)
			RETURNING `+userColumns, passwordHash, hash))
		if err != nil {
			return err
		}
		return endSessions(ctx, tx, u.ID)
	})
	if err != nil {
		return nil, storeErr("redeem password reset", err)
	}
	return u, nil
}

func scanLink(row scanner) (*keygate.AccountLink, error) {
	var l keygate.AccountLink
	var created, expires int64
	var used sql.Null[int64]
	if err := row.Scan(&l.Hash, &l.Kind, &l.UserID, &l.CreatedBy, &l.Note, &created, &expires, &used); err != nil {
		return nil, err
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMicros(created), fromMicros(expires), timePtr(used)
	return &l, nil
}
