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

// Kinds of announced changes, and what the id is for each.
const (
	KindKey     = "key"     // id: the key's hash; sent when a key is updated or deleted
	KindSession = "session" // id: the session's token hash; sent when a session is deleted
	KindApp     = "app"     // id: the app's decimal id; sent when an app's title or categories change
)

// Announcements are made in SQL, in the transaction that makes the
// change: pg_notify is transactional, so an announcement is delivered when
// the change commits, and never if it rolls back. A change to keys or
// sessions is one statement, a data-modifying WITH clause named changed
// followed by one of these selects over its RETURNING rows, which gives one
// notification (and one result row) per changed row.
const (
	notifyKeys     = `SELECT pg_notify('` + Channel + `', '` + KindKey + `:' || hash) FROM changed`
	notifySessions = `SELECT pg_notify('` + Channel + `', '` + KindSession + `:' || token_hash) FROM changed`
)

// announce sends one announcement from tx, delivered if tx commits.
func announce(ctx context.Context, tx pgx.Tx, kind, id string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, kind+":"+id)
	return err
}

// DefaultReconnectDelay is how long Listen waits before connecting again
// after it lost its connection or failed to connect.
const DefaultReconnectDelay = time.Second

// Invalidations says what Listen does with the changes other replicas (and
// this one) announce.
type Invalidations struct {
	// Changed is called with the kind (KindKey, KindSession, KindApp) and
	// the id of each announced change, one at a time, in commit order.
	Changed func(kind, id string)
	// Reset is called every time Listen has connected and is listening,
	// the first time included: anything cached before that moment may
	// have changed without the announcement reaching this replica, so
	// every cache should be emptied. It is also called for an
	// announcement that cannot be read.
	Reset func()
	// Error, when set, is told why a connection failed or was lost;
	// Listen connects again after ReconnectDelay.
	Error func(error)
	// ReconnectDelay defaults to DefaultReconnectDelay.
	ReconnectDelay time.Duration
}

// ServiceInvalidations returns the Invalidations that keep svc's caches in
// step with the database: a changed key leaves svc's key cache, and a
// reset empties it. Sessions and apps are not cached by the service, so
// their announcements need nothing. Set Error on the result to hear of
// interruptions.
func ServiceInvalidations(svc *keygate.Service) Invalidations {
	return Invalidations{
		Changed: func(kind, id string) {
			if kind == KindKey {
				svc.InvalidateKey(id)
			}
		},
		Reset: svc.InvalidateAll,
	}
}

// Listen listens on Channel on a connection of its own (outside the pool,
// with the pool's settings) and calls inv's functions until ctx is done,
// reconnecting whenever the connection is lost. It returns ctx's error.
// Changed and Reset must not block for long: announcements queue on the
// connection while they run.
func (db *DB) Listen(ctx context.Context, inv Invalidations) error {
	if inv.Changed == nil || inv.Reset == nil {
		return errors.New("postgres: listen: Changed and Reset are required")
	}
	delay := inv.ReconnectDelay
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

// invalidationHandler adapts Invalidations to pgxlisten. pgxlisten calls
// HandleBacklog right after LISTEN succeeds on each new connection.
type invalidationHandler Invalidations

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
