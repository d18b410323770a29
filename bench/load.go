package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
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
	// status is the answer's expected status; 0 is 200.
	status int
	// dbCPU, when set, reads the CPU seconds of each database server
	// process serving the servers under load, by pid.
	dbCPU func(ctx context.Context) (map[int]float64, error)
	// firstByte records each request's time to its first byte of answer
	// (when the status line arrives: for a stream, with its first event).
	firstByte bool
}

// round is what one attack measured.
type round struct {
	requests  int
	errors    int
	samples   []string // a few distinct error messages
	elapsed   time.Duration
	latencies []time.Duration
	firstByte []time.Duration // with load.firstByte
	cpu       float64         // CPU seconds the servers used during the round
	dbCPU     float64         // and the database server's processes, with load.dbCPU
	// writes is the write transactions the servers' stores committed
	// during the round; -1 when a server does not count them.
	writes int64
}

// noProxy keeps loopback requests off any proxy of the environment.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// attack runs l against the servers srvs (one, or the replicas the
// target spreads the load over), whose CPU time and store writes it reads
// before and after and sums.
func attack(ctx context.Context, l load, srvs ...*process) (round, error) {
	opts := []func(*vegeta.Attacker){
		vegeta.Workers(uint64(l.conns)),
		vegeta.MaxWorkers(uint64(l.conns)),
		vegeta.Timeout(30 * time.Second),
		vegeta.MaxBody(1 << 20),
	}
	var timing *timingTransport
	switch {
	case l.firstByte:
		tr := &http.Transport{
			Proxy:               noProxy,
			MaxIdleConnsPerHost: l.conns,
			MaxConnsPerHost:     l.conns,
			DisableCompression:  true,
		}
		defer tr.CloseIdleConnections()
		timing = &timingTransport{next: tr}
		opts = append(opts, vegeta.Client(&http.Client{Transport: timing, Timeout: 30 * time.Second}))
	case l.client != nil:
		opts = append(opts, vegeta.Client(l.client))
	default:
		opts = append(opts,
			vegeta.Connections(l.conns),
			vegeta.MaxConnections(l.conns),
			vegeta.KeepAlive(true),
			vegeta.HTTP2(false),
			vegeta.Proxy(noProxy))
	}
	atk := vegeta.NewAttacker(opts...)
	pacer := countPacer{max: uint64(l.maxHits)}
	cpu0, writes0, err := usageOf(ctx, srvs)
	if err != nil {
		return round{}, err
	}
	var db0 map[int]float64
	if l.dbCPU != nil {
		if db0, err = l.dbCPU(ctx); err != nil {
			return round{}, err
		}
	}
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var r round
	r.latencies = make([]time.Duration, 0, min(l.maxHits, 1<<20))
	want := cmp.Or(uint16(l.status), http.StatusOK)
	start := time.Now()
	for res := range atk.Attack(l.target, pacer, l.duration, "") {
		r.requests++
		r.latencies = append(r.latencies, res.Latency)
		msg := res.Error
		if res.Code == want && want != http.StatusOK {
			msg = "" // vegeta's error for a status of 400 and above: the one expected
		}
		if msg == "" && res.Code == http.StatusOK && l.ok != nil && !l.ok(res.Body) {
			msg = "unexpected body"
		}
		if msg != "" || res.Code != want {
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
	cpu1, writes1, err := usageOf(ctx, srvs)
	if err != nil {
		return round{}, err
	}
	if l.dbCPU != nil {
		db1, err := l.dbCPU(ctx)
		if err != nil {
			return round{}, err
		}
		for pid, c := range db1 {
			r.dbCPU += c - db0[pid] // a backend started during the round counts whole
		}
	}
	r.cpu, r.writes = cpu1-cpu0, writes1-writes0
	if writes0 < 0 {
		r.writes = -1
	}
	if timing != nil {
		r.firstByte = timing.take()
	}
	return r, ctx.Err()
}

// usageOf sums the CPU seconds and store write transactions of srvs;
// writes is -1 when one of them does not count its writes.
func usageOf(ctx context.Context, srvs []*process) (cpu float64, writes int64, err error) {
	for _, p := range srvs {
		u, err := p.usage()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", p.name, err)
		}
		cpu += u.CPU
		n, err := p.writeCount(ctx)
		if err != nil {
			return 0, 0, err
		}
		if n < 0 || writes < 0 {
			writes = -1
		} else {
			writes += n
		}
	}
	return cpu, writes, nil
}

// timingTransport records the time from each request's start to its
// answer's status line and headers: the time to first byte.
type timingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	d    []time.Duration
}

func (t *timingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(req)
	if err == nil {
		d := time.Since(start)
		t.mu.Lock()
		t.d = append(t.d, d)
		t.mu.Unlock()
	}
	return res, err
}

// take returns what was recorded and forgets it.
func (t *timingTransport) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	t.d = nil
	return d
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
	var all, first []time.Duration
	var elapsed time.Duration
	var writes int64
	var dbCPU float64
	for _, r := range m.rounds {
		first = append(first, r.firstByte...)
		if r.writes < 0 || writes < 0 {
			writes = -1
		} else {
			writes += r.writes
		}
		s.Requests += r.requests
		s.Errors += r.errors
		s.CPUSeconds += r.cpu
		dbCPU += r.dbCPU
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
	if s.Requests > 0 {
		s.DBCPUPerRequestUS = dbCPU / float64(s.Requests) * 1e6
	}
	if writes >= 0 && s.Requests > 0 {
		s.WritesPerRequest = float64(writes) / float64(s.Requests)
	}
	slices.Sort(first)
	s.FirstByteP50, s.FirstByteP99 = quantile(first, 0.50), quantile(first, 0.99)
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
