package sqlite

import (
	"database/sql"
	"encoding/json"
	"time"
)

// Column encodings; see the package documentation.

// micros encodes t as unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes unix microseconds to a UTC time.
func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

// nullMicros encodes an optional time; nil is NULL.
func nullMicros(t *time.Time) sql.Null[int64] {
	if t == nil {
		return sql.Null[int64]{}
	}
	return sql.Null[int64]{V: micros(*t), Valid: true}
}

// timePtr decodes an optional time.
func timePtr(n sql.Null[int64]) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.V)
	return &t
}

// nullString stores "" as NULL, for optional references such as a parent
// key hash.
func nullString(s string) sql.Null[string] {
	return sql.Null[string]{V: s, Valid: s != ""}
}

// nullInt stores 0 as NULL, for optional app ids kept as int64.
func nullInt(n int64) sql.Null[int64] {
	return sql.Null[int64]{V: n, Valid: n != 0}
}

// nullIntPtr encodes an optional integer; nil is NULL.
func nullIntPtr[T ~int64](p *T) sql.Null[int64] {
	if p == nil {
		return sql.Null[int64]{}
	}
	return sql.Null[int64]{V: int64(*p), Valid: true}
}

// intPtr decodes an optional integer.
func intPtr[T ~int64](n sql.Null[int64]) *T {
	if !n.Valid {
		return nil
	}
	v := T(n.V)
	return &v
}

// strPtr decodes an optional string kept as *string.
func strPtr(n sql.Null[string]) *string {
	if !n.Valid {
		return nil
	}
	return &n.V
}

// nullStrPtr encodes an optional string kept as *string; nil is NULL and
// an empty string stays empty.
func nullStrPtr(p *string) sql.Null[string] {
	if p == nil {
		return sql.Null[string]{}
	}
	return sql.Null[string]{V: *p, Valid: true}
}

// encodeCategories stores categories as a JSON array ("[]" for none).
func encodeCategories(c []string) string {
	if len(c) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(c) // a []string always marshals
	return string(b)
}

// decodeCategories reads a JSON array; none is nil.
func decodeCategories(s string) ([]string, error) {
	var c []string
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, err
	}
	if len(c) == 0 {
		return nil, nil
	}
	return c, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
