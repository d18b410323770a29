package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate"
)

// Identity returns the link of issuer and subject, or keygate.ErrNotFound.
func (db *DB) Identity(ctx context.Context, issuer, subject string) (*keygate.Identity, error) {
	var id keygate.Identity
	err := db.pool.QueryRow(ctx, `SELECT issuer, subject, user_id, email, created_at
		FROM identities WHERE issuer = $1 AND subject = $2`, issuer, subject).
		Scan(&id.Issuer, &id.Subject, &id.UserID, &id.Email, &id.CreatedAt)
	if err != nil {
		return nil, storeErr("identity", err)
	}
	id.CreatedAt = utc(id.CreatedAt)
	return &id, nil
}

// CreateIdentity inserts id, after newUser and its default workspace ws
// when newUser is set, in one transaction. keygate.ErrConflict for a
// linked identity or a taken email; keygate.ErrNotFound for a missing
// user.
func (db *DB) CreateIdentity(ctx context.Context, id *keygate.Identity, newUser *keygate.User, ws *keygate.Workspace) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if newUser != nil {
			if err := insertUser(ctx, tx, newUser, ws); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO identities (issuer, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5)`,
			id.Issuer, id.Subject, id.UserID, id.Email, id.CreatedAt)
		return err
	})
	return storeErr("create identity", err)
}
