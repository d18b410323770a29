package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keygate/keygate"
)

// SQLSTATE codes (PostgreSQL documentation, Appendix A).
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// storeErr turns a driver error into the store's vocabulary, keeping the
// original in the chain for logs: no row is keygate.ErrNotFound, a broken
// UNIQUE or PRIMARY KEY constraint (SQLSTATE 23505) keygate.ErrConflict,
// and a broken foreign key on insert (23503: the row refers to a missing
// one) keygate.ErrNotFound, as the sqlite package reports them. A foreign
// key that restricts a delete is a conflict instead; the method that
// deletes says so with restrictErr. op names the operation in the message.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, keygate.ErrNotFound)
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, keygate.ErrConflict, err)
		case foreignKeyViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, keygate.ErrNotFound, err)
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// restrictErr reports a foreign key that refused a delete (a row still
// refers to the one being deleted) as keygate.ErrConflict, and any other
// error as storeErr does.
func restrictErr(op string, err error) error {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == foreignKeyViolation {
		return fmt.Errorf("postgres: %s: %w: %w", op, keygate.ErrConflict, err)
	}
	return storeErr(op, err)
}
