package sqlite

import (
	"context"
	"database/sql"

	"github.com/keygate/keygate"
)

// Identity returns the link of issuer and subject, or keygate.ErrNotFound.
func (db *DB) Identity(ctx context.Context, issuer, subject string) (*keygate.Identity, error) {
	var id keygate.Identity
	var created int64
	err := db.reader.QueryRowContext(ctx, `SELECT issuer, subject, user_id, email, created_at
		FROM identities WHERE issuer = ? AND subject = ?`, issuer, subject).
		Scan(&id.Issuer, &id.Subject, &id.UserID, &id.Email, &created)
	if err != nil {
		return nil, storeErr("identity", err)
	}
	id.CreatedAt = fromMicros(created)
	return &id, nil
}

// CreateIdentity inserts id, after newUser and its default workspace ws
// when newUser is set, in one transaction. keygate.ErrConflict for a
// linked identity or a taken email; keygate.ErrNotFound for a missing
// user.
func (db *DB) CreateIdentity(ctx context.Context, id *keygate.Identity, newUser *keygate.User, ws *keygate.Workspace) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if newUser != nil {
			if err := insertUser(ctx, tx, newUser, ws); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO identities (issuer, subject, user_id, email, created_at) VALUES (?, ?, ?, ?, ?)`,
			id.Issuer, id.Subject, id.UserID, id.Email, micros(id.CreatedAt))
		return err
	})
	return storeErr("create identity", err)
}
