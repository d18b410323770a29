package postgres

import (
	"context"
	"time"

	"github.com/keygate/keygate"
)

const serviceTokenColumns = `id, name, token_hash, created_at, revoked_at`

// CreateServiceToken inserts t. keygate.ErrConflict on a duplicate id or
// hash.
func (db *DB) CreateServiceToken(ctx context.Context, t *keygate.ServiceToken) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO service_tokens (`+serviceTokenColumns+`)
		VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, t.Hash, t.CreatedAt, t.RevokedAt)
	return storeErr("create service token", err)
}

// ServiceTokenByHash returns the token with hash, revoked or not, or
// keygate.ErrNotFound.
func (db *DB) ServiceTokenByHash(ctx context.Context, hash string) (*keygate.ServiceToken, error) {
	t, err := scanServiceToken(db.pool.QueryRow(ctx,
		`SELECT `+serviceTokenColumns+` FROM service_tokens WHERE token_hash = $1`, hash))
	return t, storeErr("service token", err)
}

// ListServiceTokens returns every token, oldest first.
func (db *DB) ListServiceTokens(ctx context.Context) ([]*keygate.ServiceToken, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+serviceTokenColumns+` FROM service_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, storeErr("list service tokens", err)
	}
	defer rows.Close()
	var out []*keygate.ServiceToken
	for rows.Next() {
		t, err := scanServiceToken(rows)
		if err != nil {
			return nil, storeErr("list service tokens", err)
		}
		out = append(out, t)
	}
	return out, storeErr("list service tokens", rows.Err())
}

// RevokeServiceToken marks the token with id revoked at at.
// keygate.ErrNotFound if there is no such token or it is revoked already.
func (db *DB) RevokeServiceToken(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx,
		`UPDATE service_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, at, id)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("revoke service token", err)
}

func scanServiceToken(row scanner) (*keygate.ServiceToken, error) {
	var t keygate.ServiceToken
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &t.CreatedAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.RevokedAt = utc(t.CreatedAt), utcPtr(t.RevokedAt)
	return &t, nil
}
