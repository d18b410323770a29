// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema in the database named by the KEYGATE_TEST_POSTGRES environment
// variable, dropped when the test ends. Tests of every package that can run
// on PostgreSQL (the store, the HTTP server, the replicas) use it, so that
// they can run at once on one server without seeing each other's rows.
//
// It imports the postgres package and the testing package; nothing but
// tests should import it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/postgres"
)

// EnvURL names the environment variable that holds the test server's URL,
// e.g. postgres://postgres@127.0.0.1:5432/keygate_test?sslmode=disable.
const EnvURL = "KEYGATE_TEST_POSTGRES"

// URL returns the URL in EnvURL. When it is unset, the test is skipped, or
// fails under CI=true, where the PostgreSQL runs are required.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		msg := EnvURL + " is not set: the PostgreSQL tests need a server (scripts/pg-test-cluster.sh start DIR prints a URL)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return u
}

// NewSchema creates an empty schema with a random name and returns a URL
// whose connections use it (search_path) and the schema's name. The schema
// and everything in it are dropped when t ends, after the cleanups
// registered later (such as closing the stores on it) have run.
func NewSchema(t testing.TB) (string, string) {
	t.Helper()
	base := URL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "keygate_test_" + hex.EncodeToString(b[:])
	exec(t, base, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		exec(t, base, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return WithSearchPath(t, base, schema), schema
}

// Open opens a store on a new schema (see NewSchema) and closes it when t
// ends.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	u, _ := NewSchema(t)
	return OpenURL(t, u)
}

// OpenURL opens a store on u and closes it when t ends: one replica's
// store, when several are opened on the same URL.
func OpenURL(t testing.TB, u string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// WithSearchPath returns the connection string u with search_path set to
// schema.
func WithSearchPath(t testing.TB, u, schema string) string {
	t.Helper()
	return WithParam(t, u, "search_path", schema)
}

// WithParam returns the connection string u with the parameter name set to
// value, in the URL form or the key=value form. value must not need
// quoting.
func WithParam(t testing.TB, u, name, value string) string {
	t.Helper()
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return u + " " + name + "=" + value
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := p.Query()
	q.Set(name, value)
	p.RawQuery = q.Encode()
	return p.String()
}

// exec runs one statement on a connection of its own.
func exec(t testing.TB, u, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
