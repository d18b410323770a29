package sqlite

import (
	"context"
	"database/sql"

	"github.com/keygate/keygate"
)

// CreateUser inserts u and, in the same transaction, ws as u's default
// workspace: ws is stored with UserID u.ID and IsDefault true whatever its
// own fields say. keygate.ErrConflict if the email or an id is taken.
func (db *DB) CreateUser(ctx context.Context, u *keygate.User, ws *keygate.Workspace) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return insertUser(ctx, tx, u, ws) })
	return storeErr("create user", err)
}

func insertUser(ctx context.Context, tx *sql.Tx, u *keygate.User, ws *keygate.Workspace) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO users (id, email, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, u.IsAdmin, micros(u.CreatedAt))
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
	u, err := scanUser(db.reader.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, storeErr("user", err)
}

// UserByEmail returns the user with email, compared exactly (the service
// stores emails lower-case), or keygate.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (*keygate.User, error) {
	u, err := scanUser(db.reader.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	return u, storeErr("user by email", err)
}

func scanUser(row scanner) (*keygate.User, error) {
	var u keygate.User
	var created int64
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Disabled, &u.IsAdmin, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// ListUsers returns up to limit users, oldest first (ties by id), skipping
// offset, and the total count, from one snapshot.
func (db *DB) ListUsers(ctx context.Context, offset, limit int) ([]*keygate.User, int, error) {
	var list []*keygate.User
	var total int
	err := db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+userColumns+` FROM users
			ORDER BY created_at, id LIMIT ? OFFSET ?`, sqlLimit(limit), max(offset, 0))
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
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?, disabled = ? WHERE id = ?`, u.PasswordHash, u.Disabled, u.ID)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return endSessions(ctx, tx, u.ID)
	})
	return storeErr("update user", err)
}

// endSessions deletes every session of userID and announces each
// (keygate.ChangeSession).
func endSessions(ctx context.Context, tx *sql.Tx, userID string) error {
	rows, err := tx.QueryContext(ctx, `DELETE FROM sessions WHERE user_id = ? RETURNING token_hash`, userID)
	if err != nil {
		return err
	}
	var ended []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		ended = append(ended, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, h := range ended {
		if err := announce(ctx, tx, keygate.ChangeSession, h); err != nil {
			return err
		}
	}
	return nil
}
