package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// load is one bounded attack: conns workers, each with a connection of its
// own, sending requests back to back (a closed loop) for at most duration
// and at most maxHits requests.
type load struct {
	conns    int
	duration time.Duration
	maxHits  int
	target   vegeta.Targeter
	// client replaces vegeta's own when a hit is more than one request
	// (the sign-in flow); it must allow conns connections.
	client *http.Client
	// ok checks a 200 answer's body; nil accepts any.
	ok func(body []byte) bool
}

// round is what one attack measured.
type round struct {
	requests  int
	errors    int
	samples   []string // a few distinct error messages
	elapsed   time.Duration
	latencies []time.Duration
	cpu       float64 // CPU seconds the server used during the round
}

// noProxy keeps loopback requests off any proxy of the environment.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// attack runs l against srv, whose CPU time it reads before and after.
func attack(ctx context.Context, l load, srv *process) (round, error) {
	opts := []func(*vegeta.Attacker){
		vegeta.Workers(uint64(l.conns)),
		vegeta.MaxWorkers(uint64(l.conns)),
		vegeta.Timeout(30 * time.Second),
		vegeta.MaxBody(1 << 20),
	}
	if l.client != nil {
		opts = append(opts, vegeta.Client(l.client))
	} else {
		opts = append(opts,
			vegeta.Connections(l.conns),
			vegeta.MaxConnections(l.conns),
			vegeta.KeepAlive(true),
			vegeta.HTTP2(false),
			vegeta.Proxy(noProxy))
	}
	atk := vegeta.NewAttacker(opts...)
	pacer := countPacer{max: uint64(l.maxHits)}
	before, err := srv.usage()
	if err != nil {
		return round{}, fmt.Errorf("%s: %w", srv.name, err)
	}
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var r round
	r.latencies = make([]time.Duration, 0, min(l.maxHits, 1<<20))
	start := time.Now()
	for res := range atk.Attack(l.target, pacer, l.duration, "") {
		r.requests++
		r.latencies = append(r.latencies, res.Latency)
		msg := res.Error
		if msg == "" && res.Code == http.StatusOK && l.ok != nil && !l.ok(res.Body) {
			msg = "unexpected body"
		}
		if msg != "" || res.Code != http.StatusOK {
			r.errors++
			if msg == "" {
				msg = fmt.Sprintf("status %d", res.Code)
			}
			if len(r.samples) < 5 && !slices.Contains(r.samples, msg) {
				r.samples = append(r.samples, msg)
			}
		}
	}
	r.elapsed = time.Since(start)
	after, err := srv.usage()
	if err != nil {
		return round{}, fmt.Errorf("%s: %w", srv.name, err)
	}
	r.cpu = after.CPU - before.CPU
	return r, ctx.Err()
}

// countPacer never waits, so that each worker sends its next request as
// soon as its last one is answered, and stops the attack after max hits.
type countPacer struct{ max uint64 }

func (p countPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	return 0, hits >= p.max
}

// Rate is the pacer's intended rate: none, as fast as answers come.
func (p countPacer) Rate(time.Duration) float64 { return 0 }

// keysTarget sends GET path with the keys of secrets in turn.
func keysTarget(base, path string, secrets []string) vegeta.Targeter {
	var n atomic.Uint64
	u := base + path
	return func(t *vegeta.Target) error {
		i := (n.Add(1) - 1) % uint64(len(secrets))
		t.Method = http.MethodGet
		t.URL = u
		t.Header = http.Header{"Authorization": {"Bearer " + secrets[i]}}
		return nil
	}
}

// measurement is the rounds of one server at one load, pooled.
type measurement struct {
	rounds []round
}

func (m *measurement) add(r round) { m.rounds = append(m.rounds, r) }

// summary pools the rounds: requests per second over the summed time of
// the rounds, percentiles over every latency of every round.
func (m *measurement) summary() stats {
	var s stats
	var all []time.Duration
	var elapsed time.Duration
	for _, r := range m.rounds {
		s.Requests += r.requests
		s.Errors += r.errors
		s.CPUSeconds += r.cpu
		elapsed += r.elapsed
		all = append(all, r.latencies...)
		for _, e := range r.samples {
			if len(s.ErrorSamples) < 5 && !slices.Contains(s.ErrorSamples, e) {
				s.ErrorSamples = append(s.ErrorSamples, e)
			}
		}
		if secs := r.elapsed.Seconds(); secs > 0 {
			s.RoundRPS = append(s.RoundRPS, float64(r.requests)/secs)
		}
	}
	s.Rounds = len(m.rounds)
	if elapsed > 0 {
		s.RPS = float64(s.Requests) / elapsed.Seconds()
	}
	if s.Requests > 0 {
		s.CPUPerRequestUS = s.CPUSeconds / float64(s.Requests) * 1e6
	}
	slices.Sort(all)
	s.P50 = quantile(all, 0.50)
	s.P90 = quantile(all, 0.90)
	s.P99 = quantile(all, 0.99)
	return s
}

// quantile returns the q-quantile of sorted in milliseconds (nearest rank).
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}
