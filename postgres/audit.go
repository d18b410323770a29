package postgres

import (
	"context"

	"github.com/keygate/keygate"
)

// AppendAudit appends e and sets e.ID to its new, increasing id.
func (db *DB) AppendAudit(ctx context.Context, e *keygate.AuditEvent) error {
	err := db.pool.QueryRow(ctx, `
		INSERT INTO audit_events (created_at, action, actor_user_id, app_id,
			key_hash_prefix, client_ip, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`,
		e.CreatedAt, e.Action, e.ActorUserID, e.AppID,
		e.KeyHashPrefix, e.ClientIP, e.Detail).Scan(&e.ID)
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
