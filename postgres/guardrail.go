package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

const guardrailColumns = `id, user_id, workspace_id, name, description, allowed_models, ignored_models, ` +
	`allowed_providers, ignored_providers, allowed_data_regions, limit_micros, reset_interval, include_byok, ` +
	`unenforced, created_at, updated_at`

// encodeList stores a list as a JSON array; nil is NULL.
func encodeList(v []string) *string {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	s := string(b)
	return &s
}

func decodeList(s *string) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	var v []string
	return v, json.Unmarshal([]byte(*s), &v)
}

func guardrailArgs(g *keygate.Guardrail) ([]any, error) {
	u, err := json.Marshal(g.GuardrailUnenforced)
	if err != nil {
		return nil, err
	}
	var limit *int64
	if g.Limit != nil {
		v := int64(*g.Limit)
		limit = &v
	}
	return []any{g.ID, g.UserID, g.WorkspaceID, g.Name, g.Description, encodeList(g.AllowedModels),
		encodeList(g.IgnoredModels), encodeList(g.AllowedProviders), encodeList(g.IgnoredProviders),
		encodeList(g.AllowedDataRegions), limit, string(g.LimitReset), g.IncludeBYOK,
		string(u), g.CreatedAt, g.UpdatedAt}, nil
}

func scanGuardrail(row pgx.Row) (*keygate.Guardrail, error) {
	var g keygate.Guardrail
	var am, im, ap, ip, dr *string
	var limit *int64
	var reset, unenforced string
	if err := row.Scan(&g.ID, &g.UserID, &g.WorkspaceID, &g.Name, &g.Description, &am, &im, &ap, &ip, &dr,
		&limit, &reset, &g.IncludeBYOK, &unenforced, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return nil, err
	}
	if limit != nil {
		m := keygate.Micros(*limit)
		g.Limit = &m
	}
	g.LimitReset, g.CreatedAt = keygate.LimitReset(reset), g.CreatedAt.UTC()
	if g.UpdatedAt != nil {
		t := g.UpdatedAt.UTC()
		g.UpdatedAt = &t
	}
	for _, l := range []struct {
		s   *string
		dst *[]string
	}{{am, &g.AllowedModels}, {im, &g.IgnoredModels}, {ap, &g.AllowedProviders}, {ip, &g.IgnoredProviders}, {dr, &g.AllowedDataRegions}} {
		v, err := decodeList(l.s)
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
	_, err = db.pool.Exec(ctx, `INSERT INTO guardrails (`+guardrailColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`, args...)
	return storeErr("create guardrail", err)
}

// Guardrail returns the guardrail with id, or keygate.ErrNotFound.
func (db *DB) Guardrail(ctx context.Context, id string) (*keygate.Guardrail, error) {
	g, err := scanGuardrail(db.pool.QueryRow(ctx, `SELECT `+guardrailColumns+` FROM guardrails WHERE id = $1`, id))
	return g, storeErr("guardrail", err)
}

// ListGuardrails returns a page of a user's guardrails, oldest first, and
// their count.
func (db *DB) ListGuardrails(ctx context.Context, userID, workspaceID string, offset, limit int) ([]*keygate.Guardrail, int, error) {
	const where = `user_id = $1 AND ($2 = '' OR workspace_id = $2)`
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM guardrails WHERE `+where, userID, workspaceID).Scan(&total); err != nil {
		return nil, 0, storeErr("list guardrails", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+guardrailColumns+` FROM guardrails WHERE `+where+`
		ORDER BY created_at, id LIMIT $3 OFFSET $4`, userID, workspaceID, limit, offset)
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

// UpdateGuardrail reads the guardrail with id, locking its row (SELECT …
// FOR UPDATE), applies apply and stores the result, announcing it
// (keygate.ChangeGuardrail), in one transaction: concurrent updates, from
// any replicas, take turns on the row. keygate.ErrNotFound if there is
// none; apply's error as it is.
func (db *DB) UpdateGuardrail(ctx context.Context, id string, apply func(*keygate.Guardrail) error) (*keygate.Guardrail, error) {
	var g *keygate.Guardrail
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if g, err = scanGuardrail(tx.QueryRow(ctx, `SELECT `+guardrailColumns+` FROM guardrails WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if err := apply(g); err != nil {
			return err
		}
		args, err := guardrailArgs(g)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE guardrails SET (`+guardrailColumns+`) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			WHERE id = $1`, args...); err != nil {
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM guardrails WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
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
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, h := range hashes {
			var by *string
			if assignedBy != "" {
				by = &assignedBy
			}
			tag, err := tx.Exec(ctx, `
				INSERT INTO guardrail_keys (id, guardrail_id, key_hash, assigned_by, created_at)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guardrail_id, key_hash) DO NOTHING`,
				uuid.NewString(), guardrailID, h, by, at)
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		return announce(ctx, tx, keygate.ChangeGuardrail, guardrailID)
	})
	return n, storeErr("assign guardrail keys", err)
}

// UnassignGuardrailKeys removes the guardrail from the keys of hashes and
// announces it.
func (db *DB) UnassignGuardrailKeys(ctx context.Context, guardrailID string, hashes []string) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM guardrail_keys WHERE guardrail_id = $1 AND key_hash = ANY($2)`, guardrailID, hashes)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return announce(ctx, tx, keygate.ChangeGuardrail, guardrailID)
	})
	return n, storeErr("unassign guardrail keys", err)
}

// GuardrailKeyAssignments returns a page of key assignments, oldest
// first, and their count.
func (db *DB) GuardrailKeyAssignments(ctx context.Context, userID, guardrailID string, offset, limit int) ([]*keygate.KeyAssignment, int, error) {
	const from = ` FROM guardrail_keys a JOIN guardrails g ON g.id = a.guardrail_id JOIN api_keys k ON k.hash = a.key_hash
		WHERE g.user_id = $1 AND ($2 = '' OR a.guardrail_id = $2)`
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*)`+from, userID, guardrailID).Scan(&total); err != nil {
		return nil, 0, storeErr("guardrail key assignments", err)
	}
	rows, err := db.pool.Query(ctx, `
		SELECT a.id, a.guardrail_id, a.key_hash, k.name, k.label, a.assigned_by, a.created_at`+from+`
		ORDER BY a.created_at, a.id LIMIT $3 OFFSET $4`, userID, guardrailID, limit, offset)
	if err != nil {
		return nil, 0, storeErr("guardrail key assignments", err)
	}
	defer rows.Close()
	var out []*keygate.KeyAssignment
	for rows.Next() {
		var a keygate.KeyAssignment
		if err := rows.Scan(&a.ID, &a.GuardrailID, &a.KeyHash, &a.KeyName, &a.KeyLabel, &a.AssignedBy, &a.CreatedAt); err != nil {
			return nil, 0, storeErr("guardrail key assignments", err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, &a)
	}
	return out, total, storeErr("guardrail key assignments", rows.Err())
}

// KeyGuardrails returns the guardrails assigned to the key with hash.
func (db *DB) KeyGuardrails(ctx context.Context, keyHash string) ([]*keygate.Guardrail, error) {
	cols := "g." + strings.ReplaceAll(guardrailColumns, ", ", ", g.")
	rows, err := db.pool.Query(ctx, `
		SELECT `+cols+` FROM guardrail_keys a JOIN guardrails g ON g.id = a.guardrail_id
		WHERE a.key_hash = $1 ORDER BY g.created_at, g.id`, keyHash)
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
