package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

const linkColumns = `hash, kind, user_id, created_by, note, created_at, expires_at, used_at`

// CreateAccountLink inserts l. keygate.ErrConflict on a duplicate hash.
func (db *DB) CreateAccountLink(ctx context.Context, l *keygate.AccountLink) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO account_links (`+linkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		l.Hash, l.Kind, l.UserID, l.CreatedBy, l.Note, l.CreatedAt, l.ExpiresAt, l.UsedAt)
	return storeErr("create account link", err)
}

// AccountLink returns the link with hash, or keygate.ErrNotFound.
func (db *DB) AccountLink(ctx context.Context, hash string) (*keygate.AccountLink, error) {
	l, err := scanLink(db.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM account_links WHERE hash = $1`, hash))
	return l, storeErr("account link", err)
}

// ListAccountLinks returns the unused links of kind expiring after now,
// newest first, at most limit.
func (db *DB) ListAccountLinks(ctx context.Context, kind string, now time.Time, limit int) ([]*keygate.AccountLink, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+linkColumns+` FROM account_links
		WHERE kind = $1 AND used_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, hash LIMIT $3`, kind, now, sqlLimit(limit))
	if err != nil {
		return nil, storeErr("list account links", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*keygate.AccountLink, error) { return scanLink(r) })
	return out, storeErr("list account links", err)
}

// claimLink is the single gate of a link's single use: the conditional
// update claims the row only while it is unused and unexpired; of
// concurrent redemptions on any replica, the row lock lets one update it
// and the others, rechecking the row it left, match nothing. It returns
// keygate.ErrCodeUsed when the link exists but is used or expired.
func claimLink(ctx context.Context, tx pgx.Tx, hash, kind, userID string, usedAt time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE account_links SET used_at = $1, user_id = coalesce(nullif($2, ''), user_id)
		WHERE hash = $3 AND kind = $4 AND used_at IS NULL AND expires_at > $1`, usedAt, userID, hash, kind)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM account_links WHERE hash = $1 AND kind = $2)`, hash, kind).Scan(&exists); err != nil {
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := claimLink(ctx, tx, hash, keygate.LinkReset, "", usedAt); err != nil {
			return err
		}
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET password_hash = $1
			WHERE id = (SELECT user_id FROM account_links WHERE hash = $2)
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
	if err := row.Scan(&l.Hash, &l.Kind, &l.UserID, &l.CreatedBy, &l.Note, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt); err != nil {
		return nil, err
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = utc(l.CreatedAt), utc(l.ExpiresAt), utcPtr(l.UsedAt)
	return &l, nil
}
