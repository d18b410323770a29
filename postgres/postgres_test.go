package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/storetest"
)

// TestConformance runs the store suite, each test on a schema of its own.
func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) keygate.Store { return pgtest.Open(t) })
}

// TestMigrateConcurrent opens several stores on one empty schema at once,
// as replicas starting together do: each waits its turn, one migrates.
func TestMigrateConcurrent(t *testing.T) {
	u, _ := pgtest.NewSchema(t)
	const replicas = 4
	dbs := make([]*postgres.DB, replicas)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i] = pgtest.OpenURL(t, u) })
	}
	wg.Wait()
	latest := storetest.LatestMigration(t, "migrations")
	for i, db := range dbs {
		if db == nil {
			t.Fatalf("replica %d did not open", i)
		}
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v != latest {
			t.Errorf("replica %d: SchemaVersion = %d, %v; want %d", i, v, err, latest)
		}
		applied, err := db.Migrate(t.Context())
		if err != nil || len(applied) != 0 {
			t.Errorf("replica %d: Migrate again = %v, %v; want nothing applied", i, applied, err)
		}
	}
}

// TestMissingSchema checks that a search_path naming no schema is a clear
// error, not tables created somewhere else.
func TestMissingSchema(t *testing.T) {
	u := pgtest.WithSearchPath(t, pgtest.URL(t), "keygate_no_such_schema")
	db, err := postgres.Open(t.Context(), u)
	if err == nil {
		db.Close()
		t.Fatal("Open(search_path=keygate_no_such_schema) = nil error, want one")
	}
	if !strings.Contains(err.Error(), "no existing schema") {
		t.Errorf("Open(search_path=keygate_no_such_schema) = %v, want it to say the schema is missing", err)
	}
}

func TestPoolSize(t *testing.T) {
	u, _ := pgtest.NewSchema(t)
	tests := []struct {
		name string
		url  string
		want int32
	}{
		{"Default", u, postgres.DefaultMaxConns},
		{"FromURL", pgtest.WithParam(t, u, "pool_max_conns", "3"), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.OpenURL(t, tt.url)
			if got := db.Pool().Config().MaxConns; got != tt.want {
				t.Errorf("MaxConns = %d, want %d", got, tt.want)
			}
			// pool_max_conns is the pool's, never sent to the server.
			if _, ok := db.Pool().Config().ConnConfig.RuntimeParams["pool_max_conns"]; ok {
				t.Error("pool_max_conns left among the run-time parameters")
			}
		})
	}
}

// TestOpenErrors checks that a bad URL or an unreachable server is an
// error that never shows the password.
func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"BadPort", "postgres://keygate:s3cret-pw@127.0.0.1:notaport/kg"},
		{"BadPoolSize", "postgres://keygate:s3cret-pw@127.0.0.1:5432/kg?pool_max_conns=0"},
		// Port 1 on loopback: nothing listens there.
		{"Unreachable", "postgres://keygate:s3cret-pw@127.0.0.1:1/kg?connect_timeout=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			db, err := postgres.Open(ctx, tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) = nil error, want one", tt.name)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("Open(%s) error shows the password: %v", tt.name, err)
			}
		})
	}
}
