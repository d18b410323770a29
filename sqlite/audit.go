package sqlite

import (
	"context"
	"database/sql"

	"github.com/keygate/keygate"
)

// AppendAudit appends e and sets e.ID to its new, increasing id.
func (db *DB) AppendAudit(ctx context.Context, e *keygate.AuditEvent) error {
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return db.appendAudit(ctx, tx, e)
	})
	return storeErr("append audit", err)
}

// appendAudit appends e in tx, the transaction of the action it records,
// and sets e.ID; a nil e appends nothing.
func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, e *keygate.AuditEvent) error {
	if e == nil {
		return nil
	}
	return tx.StmtContext(ctx, db.st.insertAudit).QueryRowContext(ctx,
		micros(e.CreatedAt), e.Action, e.ActorUserID, nullIntPtr(e.AppID),
		e.KeyHashPrefix, e.ClientIP, e.Detail).Scan(&e.ID)
}

// ListAudit returns up to limit events (<= 0: all), newest first; events
// with the same time come in reverse order of appending.
func (db *DB) ListAudit(ctx context.Context, limit int) ([]*keygate.AuditEvent, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT id, created_at, action, actor_user_id, app_id, key_hash_prefix, client_ip, detail
		FROM audit_events ORDER BY created_at DESC, id DESC LIMIT ?`, sqlLimit(limit))
	if err != nil {
		return nil, storeErr("list audit", err)
	}
	defer rows.Close()
	var list []*keygate.AuditEvent
	for rows.Next() {
		var e keygate.AuditEvent
		var created int64
		var appID sql.Null[int64]
		if err := rows.Scan(&e.ID, &created, &e.Action, &e.ActorUserID, &appID,
			&e.KeyHashPrefix, &e.ClientIP, &e.Detail); err != nil {
			return nil, storeErr("list audit", err)
		}
		e.CreatedAt = fromMicros(created)
		e.AppID = intPtr[int64](appID)
		list = append(list, &e)
	}
	return list, storeErr("list audit", rows.Err())
}
