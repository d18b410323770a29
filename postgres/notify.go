package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/keygate/keygate"
)

// Channel is the LISTEN/NOTIFY channel on which every change that may sit
// in a replica's cache is announced. The payload is "<kind>:<id>".
const Channel = "keygate_invalidate"

// Announcements are made in SQL, in the transaction that makes the
// change: pg_notify is transactional, so an announcement is delivered when
// the change commits, and never if it rolls back. A change to keys or
// sessions is one statement, a data-modifying WITH clause named changed
// followed by one of these selects over its RETURNING rows, which gives one
// notification (and one result row) per changed row.
const (
	notifyKeys     = `SELECT pg_notify('` + Channel + `', '` + keygate.ChangeKey + `:' || hash) FROM changed`
	notifySessions = `SELECT pg_notify('` + Channel + `', '` + keygate.ChangeSession + `:' || token_hash) FROM changed`
)

// announce sends one announcement from tx, delivered if tx commits.
func announce(ctx context.Context, tx pgx.Tx, kind, id string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, kind+":"+id)
	return err
}

// DefaultReconnectDelay is how long Listen waits before connecting again
// after it lost its connection or failed to connect, when
// keygate.Invalidations.RetryDelay is zero.
const DefaultReconnectDelay = time.Second

var _ keygate.ChangeFeed = (*DB)(nil)

// Listen listens on Channel on a connection of its own (outside the pool,
// with the pool's settings) and calls inv's functions until ctx is done,
// reconnecting whenever the connection is lost. It returns ctx's error.
// Changed and Reset must not block for long: announcements queue on the
// connection while they run.
func (db *DB) Listen(ctx context.Context, inv keygate.Invalidations) error {
	if inv.Changed == nil || inv.Reset == nil {
		return errors.New("postgres: listen: Changed and Reset are required")
	}
	delay := inv.RetryDelay
	if delay <= 0 {
		delay = DefaultReconnectDelay
	}
	cfg := db.pool.Config().ConnConfig
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, cfg.Copy())
		},
		LogError: func(ctx context.Context, err error) {
			if inv.Error != nil && ctx.Err() == nil {
				inv.Error(err)
			}
		},
		ReconnectDelay: delay,
	}
	l.Handle(Channel, invalidationHandler(inv))
	return l.Listen(ctx)
}

// invalidationHandler adapts keygate.Invalidations to pgxlisten. pgxlisten calls
// HandleBacklog right after LISTEN succeeds on each new connection.
type invalidationHandler keygate.Invalidations

func (h invalidationHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	kind, id, ok := strings.Cut(n.Payload, ":")
	if !ok || kind == "" || id == "" {
		h.Reset()
		return errors.New("postgres: listen: unreadable announcement")
	}
	h.Changed(kind, id)
	return nil
}

func (h invalidationHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.Reset()
	return nil
}
