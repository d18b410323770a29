package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate"
)

const guardrailColumns = `id, user_id, workspace_id, name, description, allowed_models, ignored_models, ` +
	`allowed_providers, ignored_providers, allowed_data_regions, limit_micros, reset_interval, include_byok, ` +
	`unenforced, created_at, updated_at`

// encodeList stores a list as a JSON array; nil is NULL.
func encodeList(v []string) sql.Null[string] {
	if v == nil {
		return sql.Null[string]{}
	}
	b, _ := json.Marshal(v)
	return sql.Null[string]{V: string(b), Valid: true}
}

func decodeList(n sql.Null[string]) ([]string, error) {
	if !n.Valid {
		return nil, nil
	}
	var v []string
	return v, json.Unmarshal([]byte(n.V), &v)
}

func guardrailArgs(g *keygate.Guardrail) ([]any, error) {
	u, err := json.Marshal(g.GuardrailUnenforced)
	if err != nil {
		return nil, err
	}
	return []any{g.ID, g.UserID, g.WorkspaceID, g.Name, nullStrPtr(g.Description), encodeList(g.AllowedModels),
		encodeList(g.IgnoredModels), encodeList(g.AllowedProviders), encodeList(g.IgnoredProviders),
		encodeList(g.AllowedDataRegions), nullIntPtr(g.Limit), string(g.LimitReset), g.IncludeBYOK,
		string(u), micros(g.CreatedAt), nullMicros(g.UpdatedAt)}, nil
}

func scanGuardrail(row scanner) (*keygate.Guardrail, error) {
	var g keygate.Guardrail
	var desc, am, im, ap, ip, dr sql.Null[string]
	var limit, updated sql.Null[int64]
	var reset, unenforced string
	var created int64
	if err := row.Scan(&g.ID, &g.UserID, &g.WorkspaceID, &g.Name, &desc, &am, &im, &ap, &ip, &dr,
		&limit, &reset, &g.IncludeBYOK, &unenforced, &created, &updated); err != nil {
		return nil, err
	}
	g.Description, g.Limit, g.LimitReset = strPtr(desc), intPtr[keygate.Micros](limit), keygate.LimitReset(reset)
	g.CreatedAt, g.UpdatedAt = fromMicros(created), timePtr(updated)
	for _, l := range []struct {
		n   sql.Null[string]
		dst *[]string
	}{{am, &g.AllowedModels}, {im, &g.IgnoredModels}, {ap, &g.AllowedProviders}, {ip, &g.IgnoredProviders}, {dr, &g.AllowedDataRegions}} {
		v, err := decodeList(l.n)
		if err != nil {
			return nil, fmt.Errorf("guardrail %s: %w", g.ID, err)
		}
		*l.dst = v
	}
	if err := json.Unmarshal([]byte(unenforced), &g.GuardrailUnenforced); err != nil {
		return nil, fmt.Errorf("guardrail %s: %w", g.ID, err)
	}
	return &g, nil
}

// CreateGuardrail inserts g. keygate.ErrNotFound if its user does not
// exist.
func (db *DB) CreateGuardrail(ctx context.Context, g *keygate.Guardrail) error {
	args, err := guardrailArgs(g)
	if err != nil {
		return storeErr("create guardrail", err)
	}
	err = db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO guardrails (`+guardrailColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		return err
	})
	return storeErr("create guardrail", err)
}

// Guardrail returns the guardrail with id, or keygate.ErrNotFound.
func (db *DB) Guardrail(ctx context.Context, id string) (*keygate.Guardrail, error) {
	g, err := scanGuardrail(db.reader.QueryRowContext(ctx, `SELECT `+guardrailColumns+` FROM guardrails WHERE id = ?`, id))
	return g, storeErr("guardrail", err)
}

// ListGuardrails returns a page of a user's guardrails, oldest first, and
// their count.
func (db *DB) ListGuardrails(ctx context.Context, userID, workspaceID string, offset, limit int) ([]*keygate.Guardrail, int, error) {
	where, args := `user_id = ?`, []any{userID}
	if workspaceID != "" {
		where, args = where+` AND workspace_id = ?`, append(args, workspaceID)
	}
	var total int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM guardrails WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, storeErr("list guardrails", err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+guardrailColumns+` FROM guardrails WHERE `+where+`
		ORDER BY created_at, id LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, storeErr("list guardrails", err)
	}
	defer rows.Close()
	var out []*keygate.Guardrail
	for rows.Next() {
		g, err := scanGuardrail(rows)
		if err != nil {
			return nil, 0, storeErr("list guardrails", err)
		}
		out = append(out, g)
	}
	return out, total, storeErr("list guardrails", rows.Err())
}

// UpdateGuardrail reads the guardrail with id, applies apply and stores
// the result, announcing it (keygate.ChangeGuardrail), in one write
// transaction: the writer holds the database's write lock from its BEGIN
// IMMEDIATE on, so no other change comes between the read and the write.
// keygate.ErrNotFound if there is none; apply's error as it is.
func (db *DB) UpdateGuardrail(ctx context.Context, id string, apply func(*keygate.Guardrail) error) (*keygate.Guardrail, error) {
	var g *keygate.Guardrail
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if g, err = scanGuardrail(tx.QueryRowContext(ctx, `SELECT `+guardrailColumns+` FROM guardrails WHERE id = ?`, id)); err != nil {
			return err
		}
		if err := apply(g); err != nil {
			return err
		}
		args, err := guardrailArgs(g)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE guardrails SET (`+guardrailColumns+`) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			WHERE id = ?`, append(args, id)...); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeGuardrail, id)
	})
	if err != nil {
		if _, ok := errors.AsType[*keygate.Error](err); ok {
			return nil, err
		}
		return nil, storeErr("update guardrail", err)
	}
	return g, nil
}

// DeleteGuardrail deletes the guardrail with id and its assignments, and
// announces it. keygate.ErrNotFound if there is none.
func (db *DB) DeleteGuardrail(ctx context.Context, id string) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM guardrails WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeGuardrail, id)
	})
	return storeErr("delete guardrail", err)
}

// AssignGuardrailKeys assigns the guardrail to the keys of hashes it is not
// assigned to yet, in one transaction, and announces it.
// keygate.ErrNotFound, assigning none, if a key or the guardrail does not
// exist.
func (db *DB) AssignGuardrailKeys(ctx context.Context, guardrailID string, hashes []string, assignedBy string, at time.Time) (int, error) {
	n := 0
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, h := range hashes {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE hash = ?`, h).Scan(&one); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `
				INSERT INTO guardrail_keys (id, guardrail_id, key_hash, assigned_by, created_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (guardrail_id, key_hash) DO NOTHING`,
				uuid.NewString(), guardrailID, h, nullString(assignedBy), micros(at))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return announce(ctx, tx, keygate.ChangeGuardrail, guardrailID)
	})
	return n, storeErr("assign guardrail keys", err)
}

// UnassignGuardrailKeys removes the guardrail from the keys of hashes and
// announces it.
func (db *DB) UnassignGuardrailKeys(ctx context.Context, guardrailID string, hashes []string) (int, error) {
	n := 0
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, h := range hashes {
			res, err := tx.ExecContext(ctx, `DELETE FROM guardrail_keys WHERE guardrail_id = ? AND key_hash = ?`, guardrailID, h)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return announce(ctx, tx, keygate.ChangeGuardrail, guardrailID)
	})
	return n, storeErr("unassign guardrail keys", err)
}

// GuardrailKeyAssignments returns a page of key assignments, oldest
// first, and their count.
func (db *DB) GuardrailKeyAssignments(ctx context.Context, userID, guardrailID string, offset, limit int) ([]*keygate.KeyAssignment, int, error) {
	where, args := `g.user_id = ?`, []any{userID}
	if guardrailID != "" {
		where, args = where+` AND a.guardrail_id = ?`, append(args, guardrailID)
	}
	from := ` FROM guardrail_keys a JOIN guardrails g ON g.id = a.guardrail_id JOIN api_keys k ON k.hash = a.key_hash WHERE ` + where
	var total int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, storeErr("guardrail key assignments", err)
	}
	rows, err := db.reader.QueryContext(ctx, `
		SELECT a.id, a.guardrail_id, a.key_hash, k.name, k.label, a.assigned_by, a.created_at`+from+`
		ORDER BY a.created_at, a.id LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, storeErr("guardrail key assignments", err)
	}
	defer rows.Close()
	var out []*keygate.KeyAssignment
	for rows.Next() {
		var a keygate.KeyAssignment
		var by sql.Null[string]
		var created int64
		if err := rows.Scan(&a.ID, &a.GuardrailID, &a.KeyHash, &a.KeyName, &a.KeyLabel, &by, &created); err != nil {
			return nil, 0, storeErr("guardrail key assignments", err)
		}
		a.AssignedBy, a.CreatedAt = strPtr(by), fromMicros(created)
		out = append(out, &a)
	}
	return out, total, storeErr("guardrail key assignments", rows.Err())
}

// KeyGuardrails returns the guardrails assigned to the key with hash.
func (db *DB) KeyGuardrails(ctx context.Context, keyHash string) ([]*keygate.Guardrail, error) {
	cols := "g." + strings.ReplaceAll(guardrailColumns, ", ", ", g.")
	rows, err := db.reader.QueryContext(ctx, `
		SELECT `+cols+` FROM guardrail_keys a JOIN guardrails g ON g.id = a.guardrail_id
		WHERE a.key_hash = ? ORDER BY g.created_at, g.id`, keyHash)
	if err != nil {
		return nil, storeErr("key guardrails", err)
	}
	defer rows.Close()
	var out []*keygate.Guardrail
	for rows.Next() {
		g, err := scanGuardrail(rows)
		if err != nil {
			return nil, storeErr("key guardrails", err)
		}
		out = append(out, g)
	}
	return out, storeErr("key guardrails", rows.Err())
}
