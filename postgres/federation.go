package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate"
)

const federationPolicyColumns = `id, user_id, workspace_id, key_hash, issuer, audience, subject, claims, token_ttl, created_at`

// CreateFederationPolicy inserts k and p in one transaction.
// keygate.ErrNotFound if the user or workspace does not exist.
func (db *DB) CreateFederationPolicy(ctx context.Context, p *keygate.FederationPolicy, k *keygate.APIKey) error {
	claims, err := json.Marshal(p.Claims)
	if err != nil {
		return storeErr("create federation policy", err)
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO federation_policies (`+federationPolicyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ID, p.UserID, p.WorkspaceID, p.KeyHash, p.Issuer, p.Audience, p.Subject, string(claims),
			int64(p.TokenTTL/time.Second), p.CreatedAt)
		return err
	})
	return storeErr("create federation policy", err)
}

// FederationPolicy returns the policy with id, or keygate.ErrNotFound.
func (db *DB) FederationPolicy(ctx context.Context, id string) (*keygate.FederationPolicy, error) {
	p, err := scanFederationPolicy(db.pool.QueryRow(ctx,
		`SELECT `+federationPolicyColumns+` FROM federation_policies WHERE id = $1`, id))
	return p, storeErr("federation policy", err)
}

// ListFederationPolicies returns the user's policies, oldest first;
// every user's when userID is "".
func (db *DB) ListFederationPolicies(ctx context.Context, userID string) ([]*keygate.FederationPolicy, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+federationPolicyColumns+`
		FROM federation_policies WHERE $1 = '' OR user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, storeErr("list federation policies", err)
	}
	defer rows.Close()
	var out []*keygate.FederationPolicy
	for rows.Next() {
		p, err := scanFederationPolicy(rows)
		if err != nil {
			return nil, storeErr("list federation policies", err)
		}
		out = append(out, p)
	}
	return out, storeErr("list federation policies", rows.Err())
}

// DeleteFederationPolicy deletes the policy with id; its key stays.
// keygate.ErrNotFound if there is none.
func (db *DB) DeleteFederationPolicy(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM federation_policies WHERE id = $1`, id)
	if err == nil {
		err = oneRow(tag)
	}
	return storeErr("delete federation policy", err)
}

// UseSubjectToken records the jti of issuer until expiresAt.
// keygate.ErrConflict if it is recorded and remembered still at now. The
// insert is the gate: of concurrent inserts of one jti, the unique key
// lets one through, and a remembered row makes the others update nothing.
func (db *DB) UseSubjectToken(ctx context.Context, issuer, jti string, expiresAt, now time.Time) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO federation_subject_tokens (issuer, jti, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at
			WHERE federation_subject_tokens.expires_at <= $4`,
			issuer, jti, expiresAt, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return keygate.ErrConflict
		}
		// Forget a few of those remembered no longer, so the table stays
		// as large as the tokens alive.
		_, err = tx.Exec(ctx, `DELETE FROM federation_subject_tokens WHERE ctid IN
			(SELECT ctid FROM federation_subject_tokens WHERE expires_at <= $1 LIMIT 16 FOR UPDATE SKIP LOCKED)`, now)
		return err
	})
	return storeErr("use subject token", err)
}

// SigningKeys returns every signing key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]*keygate.SigningKey, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT id, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, storeErr("signing keys", err)
	}
	defer rows.Close()
	var out []*keygate.SigningKey
	for rows.Next() {
		var k keygate.SigningKey
		if err := rows.Scan(&k.ID, &k.PrivateKey, &k.CreatedAt, &k.RetiredAt); err != nil {
			return nil, storeErr("signing keys", err)
		}
		k.CreatedAt, k.RetiredAt = utc(k.CreatedAt), utcPtr(k.RetiredAt)
		out = append(out, &k)
	}
	return out, storeErr("signing keys", rows.Err())
}

// CreateSigningKey inserts k as the current key; keygate.ErrConflict if
// there is one (the unique index on the current key decides).
func (db *DB) CreateSigningKey(ctx context.Context, k *keygate.SigningKey) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO signing_keys (id, private_key, created_at) VALUES ($1, $2, $3)`,
		k.ID, k.PrivateKey, k.CreatedAt)
	return storeErr("create signing key", err)
}

// RotateSigningKey retires the current key at at and inserts k as the
// current one, in one transaction.
func (db *DB) RotateSigningKey(ctx context.Context, k *keygate.SigningKey, at time.Time) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, private_key, created_at) VALUES ($1, $2, $3)`,
			k.ID, k.PrivateKey, k.CreatedAt)
		return err
	})
	return storeErr("rotate signing key", err)
}

func scanFederationPolicy(row scanner) (*keygate.FederationPolicy, error) {
	var p keygate.FederationPolicy
	var claims []byte
	var ttl int64
	if err := row.Scan(&p.ID, &p.UserID, &p.WorkspaceID, &p.KeyHash, &p.Issuer, &p.Audience, &p.Subject,
		&claims, &ttl, &p.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(claims, &p.Claims); err != nil {
		return nil, err
	}
	if p.Claims == nil {
		p.Claims = map[string]string{}
	}
	p.TokenTTL, p.CreatedAt = time.Duration(ttl)*time.Second, utc(p.CreatedAt)
	return &p, nil
}
