package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keygate/keygate"
)

// floodRepeated is how many unknown keys the repeated flood cycles
// through.
const floodRepeated = 1000

// runFlood: GET /api/v1/key with well-formed keys that no store holds, at
// 64 connections, against a store of opt.keys keys: every request a new
// key (each costs keygate one store read, the most a key it has never
// seen can cost), and 1,000 keys over and over (answered from the
// negative cache, one read per key per its lifetime). Both servers
// answer 401. keygate's store reads are the key cache misses it counts
// (keygate_key_cache_lookups_total{result="miss"}).
func runFlood(ctx context.Context, b *bench) error {
	ks := newKeySet(b.opt.keys)
	db := filepath.Join(b.dir, "flood.db")
	b.logf("seeding %d keys", len(ks.secrets))
	if err := seedSQLite(ctx, db, ks); err != nil {
		return err
	}
	ceil, err := b.startCeiling(ctx, "flood", ks)
	if err != nil {
		return err
	}
	defer ceil.stop()
	kg, err := b.startKeygate(ctx, "flood", db)
	if err != nil {
		return err
	}
	defer kg.stop()
	repeated := unknownKeys(floodRepeated)
	for _, c := range []struct {
		name   string
		target func(base string) vegeta.Targeter
	}{
		{"unknown keys, each new", func(base string) vegeta.Targeter { return freshKeysTarget(base + "/api/v1/key") }},
		{fmt.Sprintf("unknown keys, %d repeated", floodRepeated), func(base string) vegeta.Targeter {
			return keysTarget(base, "/api/v1/key", repeated)
		}},
	} {
		b.logf("flood: %s, at 64 connections", c.name)
		misses0, err := keyMisses(ctx, kg)
		if err != nil {
			return err
		}
		k, ceilStats, err := b.alternate(ctx, ceil, kg, func(p *process) load {
			return load{conns: 64, duration: b.opt.duration, maxHits: b.opt.maxHits,
				target: c.target(p.URL()), status: http.StatusUnauthorized}
		})
		if err != nil {
			return err
		}
		misses1, err := keyMisses(ctx, kg)
		if err != nil {
			return err
		}
		b.report.addPair("flood", c.name, 64, k, ceilStats)
		if k.Requests == 0 || k.RPS == 0 {
			continue
		}
		reads := misses1 - misses0
		b.report.Figures["flood: store reads per request, "+c.name] = reads / float64(k.Requests)
		if strings.Contains(c.name, "repeated") {
			// The bound: one read per key for each negative-cache lifetime
			// begun in a round (a round of 3 s begins two of 2 s).
			round := float64(k.Requests) / k.RPS / float64(b.opt.rounds)
			lifetimes := math.Ceil(round/keygate.DefaultConfig().UnknownKeyTTL.Seconds()) * float64(b.opt.rounds)
			b.report.Figures["flood: store reads of the repeated keys / (keys x lifetimes begun)"] = reads / (floodRepeated * lifetimes)
		}
	}
	return nil
}

// unknownKeys returns n well-formed keys that no store holds.
func unknownKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = keygate.NewKey(keygate.DefaultKeyPrefix)
	}
	return keys
}

// freshKeysTarget sends every request with a key never sent before: a
// random prefix and a counter, as hex.
func freshKeysTarget(u string) vegeta.Targeter {
	var prefix [24]byte
	rand.Read(prefix[:])
	p := keygate.DefaultKeyPrefix + "v1-" + hex.EncodeToString(prefix[:])
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, u
		t.Header = http.Header{"Authorization": {fmt.Sprintf("Bearer %s%016x", p, n.Add(1))}}
		return nil
	}
}

// keyMisses reads keygate's count of key cache misses from its /metrics.
func keyMisses(ctx context.Context, p *process) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", p.URL()+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: /metrics: %w", p.name, err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `keygate_key_cache_lookups_total{result="miss"} `); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, nil // no miss yet
}
