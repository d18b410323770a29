package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// TxAttempts is txAttempts, for the tests of tx.
const TxAttempts = txAttempts

// Tx runs fn as the store's own transactions run.
func (db *DB) Tx(ctx context.Context, fn func(tx pgx.Tx) error) error { return db.tx(ctx, fn) }
