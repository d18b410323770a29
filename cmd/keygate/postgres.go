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

// tuneForStore adapts the service's settings to the store: on PostgreSQL,
// where other replicas change keys and record usage behind this one's
// back, cached keys and the usage that GET /api/v1/key reports are trusted
// for a shorter time. Usage is not announced (it changes with every metered
// request); spending limits are checked against the database regardless.
func tuneForStore(store keygate.Store, kc *keygate.Config) {
	if _, ok := store.(*postgres.DB); ok {
		kc.KeyCacheTTL = postgresKeyCacheTTL
		kc.UsageCacheTTL = postgresKeyCacheTTL
	}
}
