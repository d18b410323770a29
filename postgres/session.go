package postgres

import (
	"context"

	"github.com/keygate/keygate"
)

// CreateSession inserts s and appends audit (when not nil) in one
// statement. keygate.ErrConflict on a duplicate token hash;
// keygate.ErrNotFound if its user does not exist.
func (db *DB) CreateSession(ctx context.Context, s *keygate.Session, audit *keygate.AuditEvent) error {
	args := []any{s.TokenHash, s.UserID, s.CSRFToken, s.CreatedAt, s.ExpiresAt}
	if audit == nil {
		_, err := db.pool.Exec(ctx, sqlInsertSession, args...)
		return storeErr("create session", err)
	}
	err := db.pool.QueryRow(ctx, sqlInsertSessionAudited, append(args, auditArgs(audit)...)...).Scan(&audit.ID)
	return storeErr("create session", err)
}

const sqlInsertSession = `
		INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`

// sqlInsertSessionAudited inserts a session ($1…$5) and its audit event
// ($6…$12) in one statement.
var sqlInsertSessionAudited = `
		WITH session AS (` + sqlInsertSession + ` RETURNING 1)
		INSERT INTO audit_events (` + auditColumns + `)
		SELECT ` + auditSelect(6) + ` FROM session
		RETURNING id`

// Session returns the session with tokenHash, expired or not, or
// keygate.ErrNotFound.
func (db *DB) Session(ctx context.Context, tokenHash string) (*keygate.Session, error) {
	var s keygate.Session
	err := db.pool.QueryRow(ctx, `
		SELECT token_hash, user_id, csrf_token, created_at, expires_at
		FROM sessions WHERE token_hash = $1`, tokenHash).Scan(
		&s.TokenHash, &s.UserID, &s.CSRFToken, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return nil, storeErr("session", err)
	}
	s.CreatedAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.ExpiresAt)
	return &s, nil
}

// DeleteSession deletes the session with tokenHash and announces it
// (keygate.ChangeSession): a replica that cached the session must log it out too.
// keygate.ErrNotFound if there is none.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	tag, err := db.pool.Exec(ctx, `
		WITH changed AS (
			DELETE FROM sessions WHERE token_hash = $1 RETURNING token_hash
		) `+notifySessions, tokenHash)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("delete session", err)
}
