package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// startCeiling starts the ceiling server knowing the keys of ks.
func (b *bench) startCeiling(ctx context.Context, tag string, ks keySet) (*process, error) {
	path := filepath.Join(b.dir, tag+"-keys.txt")
	if err := ks.writeHashes(path); err != nil {
		return nil, err
	}
	return startProcess(ctx, "ceiling", b.self, filepath.Join(b.dir, tag+"-ceiling.log"),
		"ceiling listening", false, nil, ceilingArg, "-keys", path)
}

// startKeygate starts `keygate serve` on database with the rate limit off,
// the profiler on a loopback port, and extra flags.
func (b *bench) startKeygate(ctx context.Context, tag, database string, extra ...string) (*process, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", database, "--rate-limit", "0"}, extra...)
	if b.pprof {
		args = append(args, "--pprof", "127.0.0.1:0")
	}
	var env []string
	if b.opt.gogc != 0 {
		env = append(env, fmt.Sprintf("GOGC=%d", b.opt.gogc))
	}
	return startProcess(ctx, "keygate", b.keygate, filepath.Join(b.dir, tag+"-keygate.log"),
		"keygate listening", b.pprof, env, args...)
}

// labelOK accepts a /key body (keygate's or the ceiling's) of a seeded key.
func labelOK(body []byte) bool { return bytes.Contains(body, []byte(`"label":"sk-kg-v1-`)) }

// keyHashOK accepts a 200 body of /api/v1/auth/verify.
func keyHashOK(body []byte) bool { return bytes.Contains(body, []byte(`"key_hash":"`)) }

// verifyLoad is GET /api/v1/key over the keys of ks.
func (b *bench) verifyLoad(p *process, ks keySet, conns int) load {
	return load{
		conns: conns, duration: b.opt.duration, maxHits: b.opt.maxHits,
		target: keysTarget(p.URL(), "/api/v1/key", ks.secrets), ok: labelOK,
	}
}

// warm sends every key of ks once to p, so that keygate's cache holds
// them all, at 64 connections for at most limit.
func (b *bench) warm(ctx context.Context, p *process, ks keySet, limit time.Duration) (round, error) {
	l := b.verifyLoad(p, ks, 64)
	l.duration, l.maxHits = limit, len(ks.secrets)
	r, err := attack(ctx, l, p)
	if err == nil && r.errors > 0 {
		err = fmt.Errorf("warming %s: %d errors, e.g. %v", p.name, r.errors, r.samples)
	}
	return r, err
}

// alternate measures the ceiling and keygate in alternating rounds,
// ceiling first: ceiling, keygate, ceiling, keygate, … The load of each
// round comes from loadFor.
func (b *bench) alternate(ctx context.Context, ceil, kg *process, loadFor func(*process) load) (kgStats, ceilStats stats, err error) {
	var mc, mk measurement
	for i := range b.opt.rounds {
		for _, p := range []*process{ceil, kg} {
			r, err := attack(ctx, loadFor(p), p)
			if err != nil {
				return stats{}, stats{}, err
			}
			b.logf("  round %d %-7s %8.0f req/s  %d errors", i+1, p.name, float64(r.requests)/r.elapsed.Seconds(), r.errors)
			if p == ceil {
				mc.add(r)
			} else {
				mk.add(r)
			}
		}
	}
	kgStats, ceilStats = mk.summary(), mc.summary()
	if u, err := kg.usage(); err == nil {
		kgStats.PeakRSSMB = float64(u.HWM) / (1 << 20)
	}
	if u, err := ceil.usage(); err == nil {
		ceilStats.PeakRSSMB = float64(u.HWM) / (1 << 20)
	}
	return kgStats, ceilStats, nil
}

// runVerify: GET /api/v1/key, then GET /api/v1/auth/verify, with opt.keys
// distinct keys, all cached, at each connection count.
func runVerify(ctx context.Context, b *bench) error {
	ks := newKeySet(b.opt.keys)
	db := filepath.Join(b.dir, "verify.db")
	b.logf("seeding %d keys", len(ks.secrets))
	if err := seedSQLite(ctx, db, ks); err != nil {
		return err
	}
	ceil, err := b.startCeiling(ctx, "verify", ks)
	if err != nil {
		return err
	}
	defer ceil.stop()
	kg, err := b.startKeygate(ctx, "verify", db)
	if err != nil {
		return err
	}
	defer kg.stop()
	for _, p := range []*process{ceil, kg} {
		if _, err := b.warm(ctx, p, ks, time.Minute); err != nil {
			return err
		}
	}
	cas := fmt.Sprintf("%d keys", len(ks.secrets))
	for _, conns := range b.opt.conns {
		b.logf("verify at %d connections", conns)
		k, c, err := b.alternate(ctx, ceil, kg, func(p *process) load { return b.verifyLoad(p, ks, conns) })
		if err != nil {
			return err
		}
		b.report.addPair("verify", cas, conns, k, c)
		// The forward-auth check of the same cached keys, against the
		// same ceiling: it must cost no more than GET /api/v1/key.
		b.logf("auth/verify at %d connections", conns)
		k, c, err = b.alternate(ctx, ceil, kg, func(p *process) load {
			l := b.verifyLoad(p, ks, conns)
			if p == kg {
				l.target, l.ok = keysTarget(p.URL(), "/api/v1/auth/verify", ks.secrets), keyHashOK
			}
			return l
		})
		if err != nil {
			return err
		}
		b.report.addPair("verify", cas+", /api/v1/auth/verify", conns, k, c)
	}
	if err := b.profile(ctx, kg, b.verifyLoad(kg, ks, b.opt.profConns), fmt.Sprintf("verify-%d", b.opt.profConns)); err != nil {
		return err
	}
	l := b.verifyLoad(kg, ks, b.opt.profConns)
	l.target, l.ok = keysTarget(kg.URL(), "/api/v1/auth/verify", ks.secrets), keyHashOK
	return b.profile(ctx, kg, l, fmt.Sprintf("auth-verify-%d", b.opt.profConns))
}

// profile takes a CPU profile of keygate during one more round of l, at
// least 5 seconds long, into name.pprof under the --profile directory; the
// round is not part of the table.
func (b *bench) profile(ctx context.Context, kg *process, l load, name string) error {
	if b.opt.profile == "" || !b.pprof {
		return nil
	}
	if err := os.MkdirAll(b.opt.profile, 0o755); err != nil {
		return err
	}
	d := max(b.opt.duration, 5*time.Second)
	path := filepath.Join(b.opt.profile, name+".pprof")
	b.logf("profiling keygate for %s: %s", d, path)
	errc := make(chan error, 1)
	go func() { errc <- kg.cpuProfile(ctx, d, path) }()
	l.duration, l.maxHits = d+time.Second, max(l.maxHits, 1<<30)
	r, err := attack(ctx, l, kg)
	if err != nil {
		return err
	}
	b.logf("  profiled round: %.0f req/s, %d errors, %.1f CPU s", float64(r.requests)/r.elapsed.Seconds(), r.errors, r.cpu)
	if err := <-errc; err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	b.report.note("CPU profile of keygate (%s): %s", name, path)
	return nil
}

// runFlow: sign-ins (code, then exchange with a fresh verifier) on SQLite
// and, when a URL is given, PostgreSQL.
func runFlow(ctx context.Context, b *bench) error {
	ks := newKeySet(b.opt.keys) // the ceiling's keys
	ceil, err := b.startCeiling(ctx, "flow", ks)
	if err != nil {
		return err
	}
	defer ceil.stop()
	if _, err := b.warm(ctx, ceil, ks, time.Minute); err != nil {
		return err
	}

	db := filepath.Join(b.dir, "flow.db")
	userKey, err := seedUserKeySQLite(ctx, db)
	if err != nil {
		return err
	}
	if err := b.flowOn(ctx, "sqlite", db, userKey, ceil, ks); err != nil {
		return err
	}

	if b.opt.postgres == "" {
		b.report.Rows = append(b.report.Rows, row{Scenario: "flow", Case: "postgres", Server: "keygate", Skipped: "skipped: no PostgreSQL"})
		b.report.note("flow on PostgreSQL needs a server: --postgres URL or KEYGATE_TEST_POSTGRES")
		return nil
	}
	s, err := newPGSchema(ctx, b.opt.postgres)
	if err != nil {
		return err
	}
	defer s.drop(ctx)
	userKey, err = seedPostgres(ctx, s)
	if err != nil {
		return err
	}
	return b.flowOn(ctx, "postgres", s.url, userKey, ceil, ks)
}

func (b *bench) flowOn(ctx context.Context, engine, database, userKey string, ceil *process, ks keySet) error {
	kg, err := b.startKeygate(ctx, "flow-"+engine, database)
	if err != nil {
		return err
	}
	defer kg.stop()
	for _, conns := range b.opt.flowConns {
		b.logf("flow on %s at %d connections", engine, conns)
		k, c, err := b.alternate(ctx, ceil, kg, func(p *process) load {
			if p == ceil {
				return b.verifyLoad(p, ks, conns)
			}
			return b.signinLoad(p, userKey, conns)
		})
		if err != nil {
			return err
		}
		b.report.addPair("flow", engine+" (sign-ins)", conns, k, c)
	}
	return b.profile(ctx, kg, b.signinLoad(kg, userKey, b.opt.flowConns[0]), "flow-"+engine)
}

// runScale: verify at 64 connections over every key of a small and of a
// big store, each key cached before the rounds, and what a cached key
// costs in memory.
func runScale(ctx context.Context, b *bench) error {
	sizes := []int{b.opt.keys, b.opt.scaleKeys}
	var p50, p99 [2]float64
	for i, n := range sizes {
		s, err := b.scaleOne(ctx, n)
		if err != nil {
			return err
		}
		p50[i], p99[i] = s.P50, s.P99
	}
	if p50[0] > 0 && p99[0] > 0 {
		b.report.Figures[fmt.Sprintf("scale: p50 at %d keys / p50 at %d keys", sizes[1], sizes[0])] = p50[1] / p50[0]
		b.report.Figures[fmt.Sprintf("scale: p99 at %d keys / p99 at %d keys", sizes[1], sizes[0])] = p99[1] / p99[0]
		if b.hotP50 > 0 {
			b.report.Figures[fmt.Sprintf("scale: p50 at %d keys, %d hot / p50 at %d keys", sizes[1], sizes[0], sizes[0])] = b.hotP50 / p50[0]
		}
	}
	return nil
}

func (b *bench) scaleOne(ctx context.Context, n int) (stats, error) {
	tag := fmt.Sprintf("scale-%d", n)
	ks := newKeySet(n)
	db := filepath.Join(b.dir, tag+".db")
	b.logf("seeding %d keys", n)
	t0 := time.Now()
	if err := seedSQLite(ctx, db, ks); err != nil {
		return stats{}, err
	}
	b.logf("  seeded in %s", time.Since(t0).Round(time.Millisecond))
	defer removeDB(db)
	ceil, err := b.startCeiling(ctx, tag, ks)
	if err != nil {
		return stats{}, err
	}
	defer ceil.stop()
	kg, err := b.startKeygate(ctx, tag, db)
	if err != nil {
		return stats{}, err
	}
	defer kg.stop()

	var heap0, heap1 int64
	if b.pprof {
		if heap0, err = kg.heapInUse(ctx); err != nil {
			return stats{}, err
		}
	}
	u0, err := kg.usage()
	if err != nil {
		return stats{}, err
	}
	b.logf("  caching every key")
	w, err := b.warm(ctx, kg, ks, 10*time.Minute)
	if err != nil {
		return stats{}, err
	}
	if w.requests < n {
		return stats{}, fmt.Errorf("caching %d keys: only %d requests in the time allowed", n, w.requests)
	}
	if b.pprof {
		if heap1, err = kg.heapInUse(ctx); err != nil {
			return stats{}, err
		}
		b.report.Figures[fmt.Sprintf("scale: heap bytes per cached key (%d keys)", n)] = float64(heap1-heap0) / float64(n)
	}
	u1, err := kg.usage()
	if err != nil {
		return stats{}, err
	}
	b.report.Figures[fmt.Sprintf("scale: RSS bytes per cached key (%d keys)", n)] = float64(u1.RSS-u0.RSS) / float64(n)
	b.report.Figures[fmt.Sprintf("scale: seconds to cache %d keys (misses, 64 conns)", n)] = w.elapsed.Seconds()
	if _, err := b.warm(ctx, ceil, ks, time.Minute); err != nil {
		return stats{}, err
	}

	b.logf("scale with %d keys at 64 connections", n)
	k, c, err := b.alternate(ctx, ceil, kg, func(p *process) load { return b.verifyLoad(p, ks, 64) })
	if err != nil {
		return stats{}, err
	}
	b.report.addPair("scale", fmt.Sprintf("%d keys", n), 64, k, c)
	if k.RPS > 0 {
		// 600 s: keygate serve's --key-cache-ttl on SQLite, by default.
		if cycle := float64(n) / k.RPS; cycle > 600 {
			b.report.note("scale %d keys: each key comes back every %.0fs, longer than the key cache's 10-minute TTL, so most requests miss the cache", n, cycle)
		}
	}
	if hot := b.opt.keys; n > hot {
		// The same store, but requests over only the first keys: what the
		// size of the store and of the cache does to a cache hit.
		hs := keySet{secrets: ks.secrets[:hot], hashes: ks.hashes[:hot]}
		if _, err := b.warm(ctx, kg, hs, time.Minute); err != nil {
			return stats{}, err
		}
		b.logf("scale with %d keys, %d of them requested, at 64 connections", n, hot)
		hk, hc, err := b.alternate(ctx, ceil, kg, func(p *process) load { return b.verifyLoad(p, hs, 64) })
		if err != nil {
			return stats{}, err
		}
		b.report.addPair("scale", fmt.Sprintf("%d keys, %d hot", n, hot), 64, hk, hc)
		b.hotP50 = hk.P50
		if err := b.profile(ctx, kg, b.verifyLoad(kg, hs, 64), fmt.Sprintf("scale-%d-hot", n)); err != nil {
			return stats{}, err
		}
	}
	return k, nil
}

// removeDB deletes a SQLite file and its WAL, to free the disk between
// big stores.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}

// runCeilingOnly measures the ceiling server alone at each connection
// count: what the machine allows, before anything is compared with it.
func runCeilingOnly(ctx context.Context, b *bench) error {
	ks := newKeySet(b.opt.keys)
	ceil, err := b.startCeiling(ctx, "ceiling", ks)
	if err != nil {
		return err
	}
	defer ceil.stop()
	if _, err := b.warm(ctx, ceil, ks, time.Minute); err != nil {
		return err
	}
	for _, conns := range b.opt.conns {
		var m measurement
		for range b.opt.rounds {
			r, err := attack(ctx, b.verifyLoad(ceil, ks, conns), ceil)
			if err != nil {
				return err
			}
			m.add(r)
		}
		s := m.summary()
		if u, err := ceil.usage(); err == nil {
			s.PeakRSSMB = float64(u.HWM) / (1 << 20)
		}
		b.report.Rows = append(b.report.Rows, row{Scenario: "ceiling", Case: fmt.Sprintf("%d keys", len(ks.secrets)), Server: "ceiling", Conns: conns, stats: s})
	}
	return nil
}
