package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

var _ keygate.LeaseStore = (*DB)(nil)

// AcquireLeases grants budget leases (see keygate.LeaseStore) in one
// transaction. A request whose key is a workspace budget's or a
// guardrail's stand-in (keygate.ParseBudgetCounterHash,
// keygate.ParseGuardrailCounterHash) is checked against, and locks, the
// budget's or guardrail's row instead. Each key's row is locked (SELECT … FOR UPDATE, in the order
// of the hashes) before the room is read, in a statement of its own: under
// READ COMMITTED each statement reads the rows committed when it starts,
// so the room is read after every grant that held the lock before, and two
// grants of one key, from any replicas, never count the same room. A
// charge recorded meanwhile adds to the usage and draws from its lease in
// one transaction, so the room that usage plus leases leave is the same
// before and after it.
func (db *DB) AcquireLeases(ctx context.Context, reqs []keygate.LeaseRequest) ([]keygate.Lease, error) {
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := reqs[i], reqs[j]
		return cmp.Or(cmp.Compare(a.Key.Hash, b.Key.Hash), cmp.Compare(a.Window.Period, b.Window.Period))
	})
	out := make([]keygate.Lease, len(reqs))
	err := db.tx(ctx, func(tx pgx.Tx) error {
		for _, i := range order {
			l, err := acquireLease(ctx, tx, reqs[i])
			if err != nil {
				return err
			}
			out[i] = l
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("acquire leases", err)
	}
	db.writes.Add(1)
	return out, nil
}

// acquireLease grants one request in tx.
func acquireLease(ctx context.Context, tx pgx.Tx, r keygate.LeaseRequest) (keygate.Lease, error) {
	var limit *int64
	var reset string
	var byok, disabled bool
	var err error
	if id, ok := keygate.ParseGuardrailCounterHash(r.Key.Hash); ok {
		// A guardrail's stand-in key: its row is the guardrail's.
		err = tx.QueryRow(ctx, `
			SELECT limit_micros, reset_interval, include_byok FROM guardrails
			WHERE id = $1 FOR UPDATE`, id).Scan(&limit, &reset, &byok)
	} else if ws, interval, ok := keygate.ParseBudgetCounterHash(r.Key.Hash); ok {
		// A workspace budget's stand-in key: its row is the budget's.
		reset = string(interval)
		err = tx.QueryRow(ctx, `
			SELECT limit_micros, include_byok FROM workspace_budgets
			WHERE workspace_id = $1 AND reset_interval = $2 FOR UPDATE`, ws, reset).Scan(&limit, &byok)
	} else {
		err = tx.QueryRow(ctx, `
			SELECT limit_micros, limit_reset, include_byok, disabled FROM api_keys
			WHERE hash = $1 FOR UPDATE`, r.Key.Hash).Scan(&limit, &reset, &byok, &disabled)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return keygate.Lease{}, keygate.ErrNotFound
	} else if err != nil {
		return keygate.Lease{}, err
	}
	if limit == nil || r.Key.Limit == nil || keygate.Micros(*limit) != *r.Key.Limit ||
		keygate.LimitReset(reset) != r.Key.LimitReset || byok != r.Key.IncludeBYOK || disabled != r.Key.Disabled {
		return keygate.Lease{}, keygate.ErrConflict
	}
	var used, others int64
	if err := tx.QueryRow(ctx, `
		SELECT
			coalesce((SELECT micros + CASE WHEN $4 THEN byok_micros ELSE 0 END FROM usage_counters
				WHERE key_hash = $1 AND period = $2 AND period_start = $3), 0),
			coalesce((SELECT sum(amount) FROM spend_leases
				WHERE key_hash = $1 AND period = $2 AND period_start = $3 AND expires_at > now()
				  AND id <> $5), 0)`,
		r.Key.Hash, r.Window.Period, r.Window.Start, byok, r.ID).Scan(&used, &others); err != nil {
		return keygate.Lease{}, err
	}
	room := *limit - used - others
	amount := max(min(int64(r.Keep+r.Want), room), 0)
	l := keygate.Lease{Amount: keygate.Micros(amount), Granted: keygate.Micros(max(amount-int64(r.Keep), 0)),
		Used: keygate.Micros(used), Room: keygate.Micros(room - amount)}
	if r.ID != 0 {
		err := tx.QueryRow(ctx, `
			UPDATE spend_leases SET amount = $2, expires_at = now() + $3
			WHERE id = $1 AND key_hash = $4 AND period = $5 AND period_start = $6
			RETURNING id`, r.ID, amount, r.TTL, r.Key.Hash, r.Window.Period, r.Window.Start).Scan(&l.ID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return keygate.Lease{}, err
		}
	}
	if l.ID == 0 && amount > 0 {
		if err := tx.QueryRow(ctx, `
			INSERT INTO spend_leases (key_hash, period, period_start, amount, expires_at)
			VALUES ($1, $2, $3, $4, now() + $5)
			RETURNING id`, r.Key.Hash, r.Window.Period, r.Window.Start, amount, r.TTL).Scan(&l.ID); err != nil {
			return keygate.Lease{}, err
		}
	}
	// Expired leases count for nothing; their rows go with the key's
	// next grant.
	if _, err := tx.Exec(ctx, `
		DELETE FROM spend_leases WHERE key_hash = $1 AND expires_at <= now()`, r.Key.Hash); err != nil {
		return keygate.Lease{}, err
	}
	return l, nil
}

// ReturnLeases shrinks leases to what requests in flight still hold, and
// deletes those left empty, in one transaction.
func (db *DB) ReturnLeases(ctx context.Context, leases []keygate.LeaseDraw) error {
	if len(leases) == 0 {
		return nil
	}
	ids, keep := make([]int64, len(leases)), make([]int64, len(leases))
	for i, l := range slices.SortedFunc(slices.Values(leases), func(a, b keygate.LeaseDraw) int { return cmp.Compare(a.ID, b.ID) }) {
		ids[i], keep[i] = l.ID, int64(l.Micros)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE spend_leases l SET amount = least(l.amount, d.keep)
			FROM unnest($1::bigint[], $2::bigint[]) AS d (id, keep)
			WHERE l.id = d.id`, ids, keep); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM spend_leases WHERE id = ANY($1) AND amount = 0`, ids)
		return err
	})
	if err != nil {
		return storeErr("return leases", err)
	}
	db.writes.Add(1)
	return nil
}
