package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/keygate/keygate"
)

const serviceTokenColumns = `id, name, token_hash, created_at, revoked_at`

// CreateServiceToken inserts t. keygate.ErrConflict on a duplicate id or
// hash.
func (db *DB) CreateServiceToken(ctx context.Context, t *keygate.ServiceToken) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO service_tokens (`+serviceTokenColumns+`)
			VALUES (?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Hash, micros(t.CreatedAt), nullMicros(t.RevokedAt))
		return err
	})
	return storeErr("create service token", err)
}

// ServiceTokenByHash returns the token with hash, revoked or not, or
// keygate.ErrNotFound.
func (db *DB) ServiceTokenByHash(ctx context.Context, hash string) (*keygate.ServiceToken, error) {
	t, err := scanServiceToken(db.reader.QueryRowContext(ctx,
		`SELECT `+serviceTokenColumns+` FROM service_tokens WHERE token_hash = ?`, hash))
	return t, storeErr("service token", err)
}

// ListServiceTokens returns every token, oldest first.
func (db *DB) ListServiceTokens(ctx context.Context) ([]*keygate.ServiceToken, error) {
	rows, err := db.reader.QueryContext(ctx,
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
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE service_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return storeErr("revoke service token", err)
}

func scanServiceToken(row scanner) (*keygate.ServiceToken, error) {
	var t keygate.ServiceToken
	var created int64
	var revoked sql.Null[int64]
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &created, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.RevokedAt = fromMicros(created), timePtr(revoked)
	return &t, nil
}
