package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

// CreateUser inserts u and, in the same transaction, ws as u's default
// workspace: ws is stored with UserID u.ID and IsDefault true whatever its
// own fields say. keygate.ErrConflict if the email or an id is taken.
func (db *DB) CreateUser(ctx context.Context, u *keygate.User, ws *keygate.Workspace) error {
	err := db.tx(ctx, func(tx pgx.Tx) error { return insertUser(ctx, tx, u, ws) })
	return storeErr("create user", err)
}

func insertUser(ctx context.Context, tx pgx.Tx, u *keygate.User, ws *keygate.Workspace) error {
	_, err := tx.Exec(ctx,
		`INSERT INTO users (id, email, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Email, u.PasswordHash, u.IsAdmin, u.CreatedAt)
	if err != nil {
		return err
	}
	def := *ws
	def.UserID, def.IsDefault = u.ID, true
	return insertWorkspace(ctx, tx, &def)
}

const userColumns = `id, email, password_hash, disabled, is_admin, created_at`

// User returns the user with id, or keygate.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (*keygate.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, storeErr("user", err)
}

// UserByEmail returns the user with email, compared exactly (the service
// stores emails lower-case), or keygate.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (*keygate.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	return u, storeErr("user by email", err)
}

func scanUser(row scanner) (*keygate.User, error) {
	var u keygate.User
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Disabled, &u.IsAdmin, &u.CreatedAt); err != nil {
		return nil, err
	}
	u.CreatedAt = utc(u.CreatedAt)
	return &u, nil
}

// ListUsers returns up to limit users, oldest first (ties by id), skipping
// offset, and the total count, from one snapshot.
func (db *DB) ListUsers(ctx context.Context, offset, limit int) ([]*keygate.User, int, error) {
	var list []*keygate.User
	var total int
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT `+userColumns+` FROM users
			ORDER BY created_at, id LIMIT $1 OFFSET $2`, sqlLimit(limit), max(offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			list = append(list, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, storeErr("list users", err)
	}
	return list, total, nil
}

// UpdateUser stores u's password hash and disabled flag and deletes the
// user's sessions, announcing each (keygate.ChangeSession), in one
// transaction. keygate.ErrNotFound if there is no user u.ID.
func (db *DB) UpdateUser(ctx context.Context, u *keygate.User) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE users SET password_hash = $1, disabled = $2 WHERE id = $3`, u.PasswordHash, u.Disabled, u.ID)
		if err != nil {
			return err
		}
		if err := oneRow(tag); err != nil {
			return err
		}
		return endSessions(ctx, tx, u.ID)
	})
	return storeErr("update user", err)
}

// endSessions deletes every session of userID and announces each
// (keygate.ChangeSession).
func endSessions(ctx context.Context, tx pgx.Tx, userID string) error {
	_, err := tx.Exec(ctx, `
		WITH changed AS (
			DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash
		) `+notifySessions, userID)
	return err
}
