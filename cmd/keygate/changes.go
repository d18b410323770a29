package main

import "context"

// watchChanges keeps the service's caches in step with the changes that
// every process on the database announces (other replicas on PostgreSQL;
// `keygate keys disable|delete` on the same SQLite file), until ctx is
// done. It returns at once for a store without a change feed.
func (m *Main) watchChanges(ctx context.Context) {
	err := m.svc.FollowChanges(ctx, func(err error) {
		m.log.Warn("change announcements interrupted; retrying", "err", err)
	})
	if err != nil && ctx.Err() == nil {
		m.log.Error("change announcements stopped", "err", err)
	}
}
