package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/keygate/keygate"
)

// auditColumns are the columns an action's statement fills in the audit
// event it appends (auditArgs gives their values).
const auditColumns = `created_at, action, actor_user_id, app_id, key_hash_prefix, client_ip, detail`

// auditArgs are e's values for auditColumns.
func auditArgs(e *keygate.AuditEvent) []any {
	return []any{e.CreatedAt, e.Action, e.ActorUserID, e.AppID, e.KeyHashPrefix, e.ClientIP, e.Detail}
}

// auditSelect is a SELECT list of auditColumns' parameters from $first on,
// typed, for an INSERT INTO audit_events … SELECT that appends an event
// only when the action's statement wrote its row.
func auditSelect(first int) string {
	return typedParams(first, []string{"timestamptz", "text", "text", "bigint", "text", "text", "text"})
}

// typedParams is "$first::types[0], $first+1::types[1], …".
func typedParams(first int, types []string) string {
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", first+i, t)
	}
	return b.String()
}

// AppendAudit appends e and sets e.ID to its new, increasing id.
func (db *DB) AppendAudit(ctx context.Context, e *keygate.AuditEvent) error {
	err := db.pool.QueryRow(ctx, `
		INSERT INTO audit_events (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`, auditArgs(e)...).Scan(&e.ID)
	return storeErr("append audit", err)
}

// ListAudit returns up to limit events (<= 0: all), newest first; events
// with the same time come in reverse order of appending.
func (db *DB) ListAudit(ctx context.Context, limit int) ([]*keygate.AuditEvent, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, created_at, action, actor_user_id, app_id, key_hash_prefix, client_ip, detail
		FROM audit_events ORDER BY created_at DESC, id DESC LIMIT $1`, sqlLimit(limit))
	if err != nil {
		return nil, storeErr("list audit", err)
	}
	defer rows.Close()
	var list []*keygate.AuditEvent
	for rows.Next() {
		var e keygate.AuditEvent
		if err := rows.Scan(&e.ID, &e.CreatedAt, &e.Action, &e.ActorUserID, &e.AppID,
			&e.KeyHashPrefix, &e.ClientIP, &e.Detail); err != nil {
			return nil, storeErr("list audit", err)
		}
		e.CreatedAt = utc(e.CreatedAt)
		list = append(list, &e)
	}
	return list, storeErr("list audit", rows.Err())
}
