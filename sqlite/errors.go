package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/keygate/keygate"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// storeErr turns a driver error into the store's vocabulary, keeping the
// original in the chain for logs: a missing row is keygate.ErrNotFound, a
// broken UNIQUE or PRIMARY KEY constraint keygate.ErrConflict, and a broken
// foreign key (a row that refers to a missing one) keygate.ErrNotFound.
// op names the operation in the message.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, keygate.ErrNotFound)
	}
	// Extended result codes are on in the driver, so the constraint kind
	// comes from the code rather than from the message text.
	if se, ok := errors.AsType[*msqlite.Error](err); ok {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, keygate.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, keygate.ErrNotFound, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
