package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keygate/keygate"
)

// bulkChunk is how many keys one transaction of BulkInsertKeys inserts: big
// enough that commits cost little per row, small enough that the WAL stays
// a few megabytes before each checkpoint.
const bulkChunk = 10_000

// BulkInsertKeys inserts keys as CreateKey would, through one prepared
// statement in transactions of up to 10,000 keys each: a way to load
// hundreds of thousands of keys (imports, benchmark stores) in seconds
// rather than paying a transaction per key. The whole call is not atomic:
// when it fails, the chunks committed before the failure stay. Errors are
// CreateKey's: keygate.ErrConflict on a duplicate hash, keygate.ErrNotFound
// when a key's user, workspace or app does not exist.
func (db *DB) BulkInsertKeys(ctx context.Context, keys []*keygate.APIKey) error {
	for start := 0; start < len(keys); start += bulkChunk {
		chunk := keys[start:min(start+bulkChunk, len(keys))]
		err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `
				INSERT INTO api_keys (`+keyColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, k := range chunk {
				if _, err := stmt.ExecContext(ctx,
					k.Hash, k.UserID, k.WorkspaceID, nullIntPtr(k.AppID), nullString(k.ParentHash), k.Name, k.Label,
					k.IsManagement, k.Disabled, nullIntPtr(k.Limit), string(k.LimitReset), k.IncludeBYOK,
					nullMicros(k.ExpiresAt), nullStrPtr(k.ExternalUser), nullString(k.CreatorUserID),
					micros(k.CreatedAt), nullMicros(k.UpdatedAt)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return storeErr(fmt.Sprintf("bulk insert keys %d to %d", start, start+len(chunk)-1), err)
		}
	}
	return nil
}
