package postgres

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keygate/keygate"
)

// maxChargeBatch is the most charges committed in one transaction.
const maxChargeBatch = 256

// chargeGather is how long the charger waits at most for more charges (as
// many as the last batch held) before it commits a batch, when the batch
// before held more than one (the process
// is under load): it trades up to this much latency of Settle for fewer,
// larger transactions. A lone charge on an idle process waits for nothing.
// In the gateway benchmark (two replicas, 64 connections), 5 ms rather
// than 2 took the writes per request from 0.084 to 0.073 (0.112 to 0.093
// streamed), and 10 ms rather than 5 from 0.055–0.057 to 0.046–0.048
// (0.058–0.062 to 0.052–0.062 streamed), at throughputs within the noise
// (docs/benchmarks.md, "Round five").
const chargeGather = 10 * time.Millisecond

// chargeAttempts is how many times a batch whose transaction failed
// without an answer from the server (the connection broke, the server is
// restarting) is tried, chargeRetryDelay apart and doubling. A retry is
// safe: a batch that committed before its answer was lost finds its
// generations stored and charges nothing again.
const (
	chargeAttempts   = 4
	chargeRetryDelay = 100 * time.Millisecond
)

// errChargerClosed is the error of a charge on a closed DB.
var errChargerClosed = errors.New("postgres: record generation: database closed")

// chargeReq is one call of RecordGeneration, queued for the charger.
type chargeReq struct {
	c    *keygate.Charge
	done chan chargeResult // buffered, one result
}

type chargeResult struct {
	charged bool
	sums    []keygate.UsageCounter
	err     error
}

// RecordGeneration stores c's generation, adds its counters and draws its
// leases, in one transaction (see keygate.UsageStore), and returns once
// that transaction has committed.
//
// Group commit: one goroutine per DB (runCharger) commits the charges
// queued while it was busy together, up to maxChargeBatch, in three
// statements whatever their number: one insert of the generations, one
// upsert of the counters of those that were new (summed per row, in key
// order, so that the batches of several replicas lock rows in one order),
// one update of the leases they drew from. Under load the database sees one
// write transaction per batch, not per request.
func (db *DB) RecordGeneration(ctx context.Context, c *keygate.Charge) (bool, []keygate.UsageCounter, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	r := &chargeReq{c: c, done: make(chan chargeResult, 1)}
	select {
	case db.charges <- r:
	case <-db.closed:
		return false, nil, errChargerClosed
	case <-ctx.Done():
		return false, nil, ctx.Err()
	}
	// Once queued, the charge is answered: the caller waits for the
	// commit even if ctx ends, so that an error never hides a charge.
	res := <-r.done
	if res.err != nil {
		return false, nil, storeErr("record generation", res.err)
	}
	return res.charged, res.sums, nil
}

// runCharger is the charger goroutine: it takes the queued charges in
// batches and commits each batch, until db closes.
func (db *DB) runCharger() {
	defer close(db.chargerDone)
	batch := make([]*chargeReq, 0, maxChargeBatch)
	// Timers of Go 1.23 on: Reset and Stop leave no stale tick behind.
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	last := 0 // the size of the last batch
	for {
		select {
		case r := <-db.charges:
			batch = append(batch[:0], r)
		case <-db.closed:
			return
		}
		// Under load (the last batch held more than one), wait for as
		// many as the last batch held, or until chargeGather has passed:
		// a steady load fills its batches at once, and one that fell
		// waits once.
		var deadline <-chan time.Time // nil: take only what is queued
		if last > 1 {
			gather.Reset(chargeGather)
			deadline = gather.C
		}
		for len(batch) < maxChargeBatch {
			select {
			case r := <-db.charges:
				batch = append(batch, r)
				continue
			default:
			}
			if deadline == nil || len(batch) >= last {
				break
			}
			select {
			case r := <-db.charges:
				batch = append(batch, r)
			case <-deadline:
				deadline = nil
			}
		}
		gather.Stop()
		last = len(batch)
		results := db.commitCharges(batch)
		for i, r := range batch {
			r.done <- results[i]
		}
		clear(batch)
	}
}

// commitCharges commits batch, retrying a transaction that failed without
// the server's answer (chargeAttempts in all, fewer once the DB closes).
// If the server refused the batch, each charge is tried on its own, so
// that one charge the database refuses fails alone.
func (db *DB) commitCharges(batch []*chargeReq) []chargeResult {
	results, err := db.chargeTx(batch)
	delay := chargeRetryDelay
	for attempt := 2; err != nil && !fromServer(err) && attempt <= chargeAttempts; attempt++ {
		select {
		case <-time.After(delay):
		case <-db.closed:
		}
		delay *= 2
		results, err = db.chargeTx(batch)
	}
	if err == nil {
		return results
	}
	results = make([]chargeResult, len(batch))
	if len(batch) == 1 || !fromServer(err) {
		for i := range results {
			results[i].err = err
		}
		return results
	}
	for i, r := range batch {
		one, err := db.chargeTx([]*chargeReq{r})
		if err != nil {
			results[i].err = err
			continue
		}
		results[i] = one[0]
	}
	return results
}

// fromServer reports whether err is an error the server answered with,
// rather than a connection that failed.
func fromServer(err error) bool {
	_, ok := errors.AsType[*pgconn.PgError](err)
	return ok
}

// chargeTimeout bounds one attempt at a batch, so that a database that
// stopped answering fails the charges instead of holding them forever.
const chargeTimeout = 10 * time.Second

// chargeTx writes batch in one transaction (run again on a deadlock, see
// tx) and returns each charge's result.
func (db *DB) chargeTx(batch []*chargeReq) ([]chargeResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), chargeTimeout)
	defer cancel()
	var results []chargeResult
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		results, err = writeCharges(ctx, tx, batch)
		return err
	})
	if err != nil {
		return nil, err
	}
	db.writes.Add(1)
	return results, nil
}

// writeCharges runs the three statements of a batch in tx.
func writeCharges(ctx context.Context, tx pgx.Tx, batch []*chargeReq) ([]chargeResult, error) {
	results := make([]chargeResult, len(batch))
	// The first charge of each id in the batch is the one that may be
	// new; a later one with the same id is a duplicate in any case.
	first := make(map[string]int, len(batch))
	var gens generationColumnsArrays
	for i, r := range batch {
		if _, dup := first[r.c.Generation.ID]; dup {
			continue
		}
		first[r.c.Generation.ID] = i
		gens.add(r.c.Generation)
	}
	rows, err := tx.Query(ctx, sqlInsertGenerations, gens.args()...)
	if err != nil {
		return nil, err
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(inserted) == 0 {
		return results, nil
	}
	sums := make(map[keygate.UsageCounter]keygate.UsageCounter)
	draws := make(map[int64]keygate.Micros)
	for _, id := range inserted {
		i := first[id]
		results[i].charged = true
		for _, c := range batch[i].c.Counters {
			ref := counterRef(c)
			s := sums[ref]
			s.Micros += c.Micros
			s.BYOKMicros += c.BYOKMicros
			sums[ref] = s
		}
		for _, d := range batch[i].c.Leases {
			draws[d.ID] += d.Micros
		}
	}
	if len(sums) > 0 {
		refs := slices.SortedFunc(maps.Keys(sums), func(a, b keygate.UsageCounter) int {
			return cmp.Or(cmp.Compare(a.KeyHash, b.KeyHash), cmp.Compare(a.Period, b.Period), a.Start.Compare(b.Start))
		})
		n := len(refs)
		hashes, periods := make([]string, n), make([]string, n)
		starts, paid, byok := make([]time.Time, n), make([]int64, n), make([]int64, n)
		for i, ref := range refs {
			hashes[i], periods[i], starts[i] = ref.KeyHash, ref.Period, ref.Start
			paid[i], byok[i] = int64(sums[ref].Micros), int64(sums[ref].BYOKMicros)
		}
		rows, err := tx.Query(ctx, sqlAddCounters, hashes, periods, starts, paid, byok)
		if err != nil {
			return nil, err
		}
		after, err := scanCounters(rows)
		if err != nil {
			return nil, err
		}
		for _, c := range after {
			sums[counterRef(c)] = c
		}
	}
	if err := addRollups(ctx, tx, batch, results); err != nil {
		return nil, err
	}
	// Every replica drops the usage it cached for the keys charged, once
	// this transaction commits (pg_notify is transactional).
	charged := make(map[string]bool)
	for ref := range sums {
		charged[ref.KeyHash] = true
	}
	if len(charged) > 0 {
		hashes := slices.Sorted(maps.Keys(charged))
		if _, err := tx.Exec(ctx, sqlAnnounceUsage, hashes); err != nil {
			return nil, err
		}
	}
	if len(draws) > 0 {
		ids := slices.Sorted(maps.Keys(draws))
		amounts := make([]int64, len(ids))
		for i, id := range ids {
			amounts[i] = int64(draws[id])
		}
		if _, err := tx.Exec(ctx, sqlDrawLeases, ids, amounts); err != nil {
			return nil, err
		}
	}
	for i, r := range batch {
		if !results[i].charged {
			continue
		}
		results[i].sums = make([]keygate.UsageCounter, len(r.c.Counters))
		for j, c := range r.c.Counters {
			results[i].sums[j] = sums[counterRef(c)]
		}
	}
	return results, nil
}

// sqlInsertGenerations stores the generations of a batch whose ids are
// new and returns those ids: the primary key is the gate.
const sqlInsertGenerations = `
	INSERT INTO generations (` + generationColumns + `)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
		$6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[],
		$12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::boolean[],
		$17::boolean[], $18::boolean[], $19::boolean[], $20::text[], $21::bigint[],
		$22::bigint[], $23::timestamptz[], $24::text[])
	ON CONFLICT (id) DO NOTHING
	RETURNING id`

// sqlAddCounters adds to the counters, in the order given (key, period,
// start), and returns their sums after. The increment is done by the
// database in the upsert itself, never read into Go and written back: a
// concurrent charge that wants the same row waits for its lock and then
// adds to the committed sum, so no charge from any replica is lost.
const sqlAddCounters = `
	INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros)
	SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[])
	ON CONFLICT (key_hash, period, period_start) DO UPDATE SET
		micros = usage_counters.micros + excluded.micros,
		byok_micros = usage_counters.byok_micros + excluded.byok_micros
	RETURNING key_hash, period, period_start, micros, byok_micros`

// sqlAnnounceUsage announces the keys whose counters a batch added to.
const sqlAnnounceUsage = `SELECT pg_notify('` + Channel + `', '` + keygate.ChangeUsage + `:' || h) FROM unnest($1::text[]) AS h`

// sqlDrawLeases lowers the leases a batch's charges were admitted from.
const sqlDrawLeases = `
	UPDATE spend_leases l SET amount = greatest(l.amount - d.micros, 0)
	FROM unnest($1::bigint[], $2::bigint[]) AS d (id, micros)
	WHERE l.id = d.id`

// generationColumnsArrays holds generations column by column, as
// sqlInsertGenerations takes them.
type generationColumnsArrays struct {
	id, keyHash, userID, workspaceID                      []string
	appID                                                 []*int64
	model, upstreamModel, provider, endpoint              []string
	prompt, completion, reasoning, cached, cost, upstream []int64
	byok, estimated, streamed, cancelled                  []bool
	finish                                                []string
	latency, genTime                                      []int64
	created                                               []time.Time
	upstreamID                                            []string
}

func (a *generationColumnsArrays) add(g *keygate.Generation) {
	a.id = append(a.id, g.ID)
	a.keyHash = append(a.keyHash, g.KeyHash)
	a.userID = append(a.userID, g.UserID)
	a.workspaceID = append(a.workspaceID, g.WorkspaceID)
	a.appID = append(a.appID, g.AppID)
	a.model = append(a.model, g.Model)
	a.upstreamModel = append(a.upstreamModel, g.UpstreamModel)
	a.provider = append(a.provider, g.Provider)
	a.endpoint = append(a.endpoint, g.Endpoint)
	a.prompt = append(a.prompt, g.PromptTokens)
	a.completion = append(a.completion, g.CompletionTokens)
	a.reasoning = append(a.reasoning, g.ReasoningTokens)
	a.cached = append(a.cached, g.CachedTokens)
	a.cost = append(a.cost, int64(g.Cost))
	a.upstream = append(a.upstream, int64(g.UpstreamInferenceCost))
	a.byok = append(a.byok, g.BYOK)
	a.estimated = append(a.estimated, g.CostEstimated)
	a.streamed = append(a.streamed, g.Streamed)
	a.cancelled = append(a.cancelled, g.Cancelled)
	a.finish = append(a.finish, g.FinishReason)
	a.latency = append(a.latency, g.Latency.Microseconds())
	a.genTime = append(a.genTime, g.GenerationTime.Microseconds())
	a.created = append(a.created, g.CreatedAt)
	a.upstreamID = append(a.upstreamID, g.UpstreamID)
}

func (a *generationColumnsArrays) args() []any {
	return []any{a.id, a.keyHash, a.userID, a.workspaceID, a.appID, a.model,
		a.upstreamModel, a.provider, a.endpoint, a.prompt, a.completion,
		a.reasoning, a.cached, a.cost, a.upstream, a.byok, a.estimated,
		a.streamed, a.cancelled, a.finish, a.latency, a.genTime, a.created, a.upstreamID}
}

// WriteCount returns how many write transactions of spending (batches of
// charges, lease grants and returns) this DB has committed: the database
// writes the gateway causes, for tests and benchmarks.
func (db *DB) WriteCount() int64 { return db.writes.Load() }

// addRollups adds the rollup rows of the charges of batch that were
// charged, summed per row first, in one upsert per table, in the order of
// the rows' keys (so that the batches of several replicas lock rows in one
// order).
func addRollups(ctx context.Context, tx pgx.Tx, batch []*chargeReq, results []chargeResult) error {
	type appRef struct {
		day   time.Time
		app   int64
		model string
	}
	type userRef struct {
		user                            string
		day                             time.Time
		workspace, key, model, provider string
	}
	apps := make(map[appRef]*keygate.AppDay)
	users := make(map[userRef]*keygate.UserDay)
	for i, r := range batch {
		if !results[i].charged {
			continue
		}
		if a := r.c.AppDay; a != nil {
			ref := appRef{a.Day.UTC(), a.AppID, a.Model}
			if s, ok := apps[ref]; ok {
				s.Add(a)
			} else {
				c := *a
				apps[ref] = &c
			}
		}
		if u := r.c.UserDay; u != nil {
			ref := userRef{u.UserID, u.Day.UTC(), u.WorkspaceID, u.KeyHash, u.Model, u.Provider}
			if s, ok := users[ref]; ok {
				s.Add(u)
			} else {
				c := *u
				users[ref] = &c
			}
		}
	}
	if len(apps) > 0 {
		refs := slices.SortedFunc(maps.Keys(apps), func(a, b appRef) int {
			return cmp.Or(a.day.Compare(b.day), cmp.Compare(a.app, b.app), cmp.Compare(a.model, b.model))
		})
		n := len(refs)
		days, ids, models := make([]time.Time, n), make([]int64, n), make([]string, n)
		reqs, prompt, completion := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, ref := range refs {
			a := apps[ref]
			days[i], ids[i], models[i] = ref.day, ref.app, ref.model
			reqs[i], prompt[i], completion[i] = a.Requests, a.PromptTokens, a.CompletionTokens
		}
		if _, err := tx.Exec(ctx, sqlAddAppDays, days, ids, models, reqs, prompt, completion); err != nil {
			return err
		}
	}
	if len(users) > 0 {
		refs := slices.SortedFunc(maps.Keys(users), func(a, b userRef) int {
			return cmp.Or(cmp.Compare(a.user, b.user), a.day.Compare(b.day), cmp.Compare(a.workspace, b.workspace),
				cmp.Compare(a.key, b.key), cmp.Compare(a.model, b.model), cmp.Compare(a.provider, b.provider))
		})
		n := len(refs)
		userIDs, days, workspaces, keys := make([]string, n), make([]time.Time, n), make([]string, n), make([]string, n)
		models, providers := make([]string, n), make([]string, n)
		reqs, prompt, completion, reasoning := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		paid, byok := make([]int64, n), make([]int64, n)
		for i, ref := range refs {
			u := users[ref]
			userIDs[i], days[i], workspaces[i], keys[i] = ref.user, ref.day, ref.workspace, ref.key
			models[i], providers[i] = ref.model, ref.provider
			reqs[i], prompt[i], completion[i], reasoning[i] = u.Requests, u.PromptTokens, u.CompletionTokens, u.ReasoningTokens
			paid[i], byok[i] = int64(u.Micros), int64(u.BYOKMicros)
		}
		if _, err := tx.Exec(ctx, sqlAddUserDays, userIDs, days, workspaces, keys, models, providers,
			reqs, prompt, completion, reasoning, paid, byok); err != nil {
			return err
		}
	}
	return nil
}

// sqlAddAppDays adds to the app rollup rows, each in the database.
const sqlAddAppDays = `
	INSERT INTO app_usage_daily (day, app_id, model, requests, prompt_tokens, completion_tokens)
	SELECT * FROM unnest($1::timestamptz[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
	ON CONFLICT (day, app_id, model) DO UPDATE SET
		requests = app_usage_daily.requests + excluded.requests,
		prompt_tokens = app_usage_daily.prompt_tokens + excluded.prompt_tokens,
		completion_tokens = app_usage_daily.completion_tokens + excluded.completion_tokens`

// sqlAddUserDays adds to the user rollup rows, each in the database.
const sqlAddUserDays = `
	INSERT INTO user_usage_daily (user_id, day, workspace_id, key_hash, model, provider,
		requests, prompt_tokens, completion_tokens, reasoning_tokens, micros, byok_micros)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
	ON CONFLICT (user_id, day, workspace_id, key_hash, model, provider) DO UPDATE SET
		requests = user_usage_daily.requests + excluded.requests,
		prompt_tokens = user_usage_daily.prompt_tokens + excluded.prompt_tokens,
		completion_tokens = user_usage_daily.completion_tokens + excluded.completion_tokens,
		reasoning_tokens = user_usage_daily.reasoning_tokens + excluded.reasoning_tokens,
		micros = user_usage_daily.micros + excluded.micros,
		byok_micros = user_usage_daily.byok_micros + excluded.byok_micros`
