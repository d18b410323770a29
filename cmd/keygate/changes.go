package main

import (
	"context"
	"log/slog"

	"github.com/keygate/keygate"
)

// watchChanges keeps the service's caches in step with the changes that
// every process on the database announces (other replicas on PostgreSQL;
// `keygate keys disable|delete` on the same SQLite file), until ctx is
// done. It returns at once for a store without a change feed.
func (m *Main) watchChanges(ctx context.Context) {
	feed, ok := m.store.(keygate.ChangeFeed)
	if !ok {
		return
	}
	// Reset comes every time listening (re)starts: whatever was cached
	// before may have changed unannounced.
	inv := m.svc.Invalidations()
	inv.Error = func(err error) {
		slog.Warn("change announcements interrupted; retrying", "err", err)
	}
	err := feed.Listen(ctx, inv)
	if ctx.Err() == nil {
		slog.Error("change announcements stopped", "err", err)
	}
}
