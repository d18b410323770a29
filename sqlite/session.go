package sqlite

import (
	"context"
	"database/sql"

	"github.com/keygate/keygate"
)

// CreateSession inserts s and appends audit (when not nil) in one
// transaction. keygate.ErrConflict on a duplicate token hash;
// keygate.ErrNotFound if its user does not exist.
func (db *DB) CreateSession(ctx context.Context, s *keygate.Session, audit *keygate.AuditEvent) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`,
			s.TokenHash, s.UserID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt))
		if err != nil {
			return err
		}
		return db.appendAudit(ctx, tx, audit)
	})
	return storeErr("create session", err)
}

// Session returns the session with tokenHash, expired or not, or
// keygate.ErrNotFound.
func (db *DB) Session(ctx context.Context, tokenHash string) (*keygate.Session, error) {
	var s keygate.Session
	var created, expires int64
	err := db.reader.QueryRowContext(ctx, `
		SELECT token_hash, user_id, csrf_token, created_at, expires_at
		FROM sessions WHERE token_hash = ?`, tokenHash).Scan(
		&s.TokenHash, &s.UserID, &s.CSRFToken, &created, &expires)
	if err != nil {
		return nil, storeErr("session", err)
	}
	s.CreatedAt = fromMicros(created)
	s.ExpiresAt = fromMicros(expires)
	return &s, nil
}

// DeleteSession deletes the session with tokenHash and announces it
// (keygate.ChangeSession). keygate.ErrNotFound if there is none.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeSession, tokenHash)
	})
	return storeErr("delete session", err)
}
