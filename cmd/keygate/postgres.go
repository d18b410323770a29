package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
)

func init() {
	openPostgres = func(ctx context.Context, dsn string) (keygate.Store, error) {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		return db, nil
	}
}

// postgresKeyCacheTTL is how long a replica on PostgreSQL trusts a cached
// key. Announcements of changes normally reach every replica within
// milliseconds; this bounds how long a key disabled elsewhere stays usable
// here when one is missed.
const postgresKeyCacheTTL = 5 * time.Second

// sqliteKeyCacheTTL is how long a server on SQLite trusts a cached key and
// its usage. Every change of a key is announced through the file's change
// table, which the server reads every sqlite.PollInterval, and usage is
// recorded by the server itself, so the TTL only bounds what an
// announcement never seen, or usage recorded by a second server on the
// same file, would leave stale. It is long so that a store whose keys are
// each used less often than every few seconds is still served from memory
// (docs/benchmarks.md, "scale").
const sqliteKeyCacheTTL = 10 * time.Minute

// tuneForStore adapts the service's settings to the store: on PostgreSQL,
// where other replicas change keys and record usage behind this one's
// back, cached keys and the usage that GET /api/v1/key reports are trusted
// for a shorter time (usage is announced per batch of charges, but an
// announcement may be missed); on SQLite for longer. ttl, when not 0, is
// the operator's choice (--key-cache-ttl) for either. Spending limits are
// checked against the store regardless (BalanceTTL, leases).
func tuneForStore(store keygate.Store, kc *keygate.Config, ttl time.Duration) {
	if ttl == 0 {
		ttl = sqliteKeyCacheTTL
		if _, ok := store.(*postgres.DB); ok {
			ttl = postgresKeyCacheTTL
		}
	}
	kc.KeyCacheTTL, kc.UsageCacheTTL = ttl, ttl
}
