package postgres

import (
	"time"

	"github.com/keygate/keygate"
)

// Column encodings; see the package documentation. pgx sends a nil
// pointer as NULL and scans NULL into a nil pointer, so optional values
// travel as pointers.

// utc returns t in UTC: pgx reads timestamptz in the local zone.
func utc(t time.Time) time.Time { return t.UTC() }

// utcPtr returns an optional time in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullString stores "" as NULL, for optional references such as a parent
// key hash; scanned back, NULL is "".
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// str returns the string p points to, or "" for NULL.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nullInt stores 0 as NULL, for optional app ids kept as int64.
func nullInt(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

// microsPtr converts an optional amount to what pgx sends as bigint.
func microsPtr(m *keygate.Micros) *int64 {
	if m == nil {
		return nil
	}
	n := int64(*m)
	return &n
}

// toMicros decodes an optional bigint amount.
func toMicros(n *int64) *keygate.Micros {
	if n == nil {
		return nil
	}
	m := keygate.Micros(*n)
	return &m
}

// categories stores an app's categories: none is the empty array.
func categories(c []string) []string {
	if c == nil {
		return []string{}
	}
	return c
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}
