package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// Hidden first arguments that make this program the gateway scenario's
// upstream, or its ceiling: a bare reverse proxy in front of that upstream.
const (
	upstreamArg = "__upstream-server"
	proxyArg    = "__proxy-server"
)

// benchReply is every answer of the upstream: "Hello" with 10 prompt and
// 20 completion tokens, streamed as three chunks when asked.
func benchReply(*upstreamtest.Request) upstreamtest.Reply {
	return upstreamtest.Reply{
		Content: []string{"Hel", "lo", "!"},
		Usage:   &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20},
	}
}

// upstreamMain runs upstreamtest's server answering benchReply at once,
// logs its address in the form startProcess waits for, and serves until
// SIGTERM.
func upstreamMain([]string) int {
	up := upstreamtest.New(benchReply)
	defer up.Close()
	return serveUntilSignal("upstream listening", up.Listener.Addr().String(), nil)
}

// proxyMain runs net/http/httputil.ReverseProxy in front of -upstream and
// nothing else: the least any gateway must cost.
func proxyMain(args []string) int {
	fs := flag.NewFlagSet(proxyArg, flag.ExitOnError)
	upstream := fs.String("upstream", "", "base URL of the upstream")
	fs.Parse(args)
	target, err := url.Parse(*upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy: -upstream:", err)
		return 1
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024, IdleConnTimeout: 90 * time.Second},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy: listen:", err)
		return 1
	}
	// Full duplex: the transport may still be reading the request body
	// (its last read, to see the end after Content-Length bytes) when the
	// upstream's answer arrives; without it the server closes that body as
	// the answer's headers are written, the transport drops the upstream
	// connection mid-answer, and the client of a stream gets "unexpected
	// EOF" now and then (golang/go#40747). keygate reads the whole body
	// before forwarding and never races so.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return serveUntilSignal("proxy listening", ln.Addr().String(), srv)
}

// serveUntilSignal logs msg with addr and waits for SIGTERM.
func serveUntilSignal(msg, addr string, srv *http.Server) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Info(msg, "addr", addr)
	<-ctx.Done()
	if srv != nil {
		srv.Close()
	}
	return 0
}

// chatTarget sends POST path with a small chat completion for model, with
// the keys of secrets in turn, to the servers of bases in turn; a key goes
// to every one of them over the run (with two servers, key k goes to one
// in a pass over the keys and to the other in the next).
func chatTarget(bases []string, path, model string, stream bool, secrets []string) vegeta.Targeter {
	var n atomic.Uint64
	body := fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":"Say hello"}],"stream":%t}`, model, stream)
	urls := make([]string, len(bases))
	for i, b := range bases {
		urls[i] = b + path
	}
	nk := uint64(len(secrets))
	return func(t *vegeta.Target) error {
		i := n.Add(1) - 1
		t.Method = http.MethodPost
		t.URL = urls[(i+i/nk)%uint64(len(urls))]
		t.Body = body
		t.Header = http.Header{"Authorization": {"Bearer " + secrets[i%nk]}, "Content-Type": {"application/json"}}
		return nil
	}
}

// gatewayRound is the longest round of the gateway scenario, so that a
// whole run (two engines, two cases, two connection counts, three
// servers, alternated) stays within about three minutes.
const gatewayRound = 3 * time.Second

// gatewayLimit is every benchmark key's limit, US$1,000,000: never
// reached, but checked on every request (and leased on PostgreSQL).
const gatewayLimit = keygate.Micros(1_000_000_000_000)

// runGateway measures a small chat completion, unstreamed and streamed,
// straight to the upstream, through the bare reverse proxy, and through
// keygate's gateway (key check, limit check and reservation, forwarding,
// metering, settlement), in alternating rounds at 1 and 64 connections:
// on SQLite with one keygate, and on PostgreSQL with two keygate
// processes sharing the database and the load.
func runGateway(ctx context.Context, b *bench) error {
	up, err := startProcess(ctx, "upstream", b.self, filepath.Join(b.dir, "gateway-upstream.log"), "upstream listening", false, nil, upstreamArg)
	if err != nil {
		return err
	}
	defer up.stop()
	proxy, err := startProcess(ctx, "proxy", b.self, filepath.Join(b.dir, "gateway-proxy.log"), "proxy listening", false, nil, proxyArg, "-upstream", up.URL())
	if err != nil {
		return err
	}
	defer proxy.stop()
	ks := newKeySet(100)
	limit := gatewayLimit
	ks.limit = &limit
	models := filepath.Join(b.dir, "models.yaml")
	yaml := fmt.Sprintf("upstreams:\n  up: {base_url: %q}\nmodels:\n  - {name: bench/chat, upstream: up, pricing: {prompt: 0.50, completion: 1.50}}\n", up.URL()+"/v1")
	if err := os.WriteFile(models, []byte(yaml), 0o600); err != nil {
		return err
	}

	b.report.note("gateway: the ceiling is a bare httputil.ReverseProxy in front of the same upstream; the upstream row is the same load sent straight to it; latencies are to the last byte, streams included; first byte is when the status line arrives; on PostgreSQL keygate is two processes on one database, the load alternating between them, their CPU summed")

	db := filepath.Join(b.dir, "gateway.db")
	if err := seedSQLite(ctx, db, ks); err != nil {
		return err
	}
	kg, err := b.startKeygate(ctx, "gateway", db, "--models", models)
	if err != nil {
		return err
	}
	err = b.gatewayOn(ctx, "sqlite", up, proxy, []*process{kg}, ks, nil)
	kg.stop()
	// The SQLite file's pages that its server left dirty are written back
	// by the kernel up to 30 s later; flush them now, so that the writeback
	// does not stall the PostgreSQL rounds (it did: a second-long stall in
	// one round of most runs, whichever build served PostgreSQL).
	syscall.Sync()
	if err != nil {
		return err
	}

	if b.opt.postgres == "" {
		b.report.Rows = append(b.report.Rows, row{Scenario: "gateway", Case: "postgres x2", Server: "keygate", Skipped: "skipped: no PostgreSQL"})
		return nil
	}
	s, err := newPGSchema(ctx, b.opt.postgres)
	if err != nil {
		return err
	}
	defer s.drop(ctx)
	if err := seedPostgresKeys(ctx, s, ks); err != nil {
		return err
	}
	var replicas []*process
	defer func() {
		for _, p := range replicas {
			p.stop()
		}
	}()
	// The replicas' connections are named, so that the CPU of the server
	// processes serving them can be found and counted.
	u, err := url.Parse(s.url)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("application_name", s.name)
	u.RawQuery = q.Encode()
	for i := range 2 {
		p, err := b.startKeygate(ctx, fmt.Sprintf("gateway-pg%d", i+1), u.String(), "--models", models)
		if err != nil {
			return err
		}
		replicas = append(replicas, p)
	}
	return b.gatewayOn(ctx, "postgres x2", up, proxy, replicas, ks, pgBackendsCPU(b.opt.postgres, s.name))
}

// gatewayOn runs the gateway's rounds with keygate as the replicas kgs
// on one engine and adds their rows and figures to the report; dbCPU,
// when set, reads the CPU of the database server's processes that serve
// keygate.
func (b *bench) gatewayOn(ctx context.Context, engine string, up, proxy *process, kgs []*process, ks keySet, dbCPU func(context.Context) (map[int]float64, error)) error {
	type server struct {
		name  string
		procs []*process
		bases []string
		path  string
	}
	servers := []server{
		{"upstream", []*process{up}, []string{up.URL()}, "/v1/chat/completions"},
		{"proxy", []*process{proxy}, []string{proxy.URL()}, "/v1/chat/completions"},
		{"keygate", kgs, nil, "/api/v1/chat/completions"},
	}
	for _, p := range kgs {
		servers[2].bases = append(servers[2].bases, p.URL())
	}
	d := min(b.opt.duration, gatewayRound)
	for _, stream := range []bool{false, true} {
		cas, ok := "chat "+engine, okBody(`"Hello!"`)
		if stream {
			cas, ok = "chat stream "+engine, okBody("data: [DONE]")
		}
		for _, conns := range []int{1, 64} {
			b.logf("gateway %s at %d connections", cas, conns)
			var ms [3]measurement
			for i := range b.opt.rounds {
				for j, sv := range servers {
					l := load{conns: conns, duration: d, maxHits: b.opt.maxHits, ok: ok, firstByte: stream,
						target: chatTarget(sv.bases, sv.path, "bench/chat", stream, ks.secrets)}
					if sv.name == "keygate" {
						l.dbCPU = dbCPU
					}
					r, err := attack(ctx, l, sv.procs...)
					if err != nil {
						return err
					}
					b.logf("  round %d %-8s %8.0f req/s  %d errors", i+1, sv.name, float64(r.requests)/r.elapsed.Seconds(), r.errors)
					ms[j].add(r)
				}
			}
			direct, ceil, k := ms[0].summary(), ms[1].summary(), ms[2].summary()
			direct.PeakRSSMB, ceil.PeakRSSMB, k.PeakRSSMB = peakRSSMB(servers[0].procs), peakRSSMB(servers[1].procs), peakRSSMB(servers[2].procs)
			b.report.Rows = append(b.report.Rows, row{Scenario: "gateway", Case: cas, Server: "upstream", Conns: conns, stats: direct})
			b.report.addPair("gateway", cas, conns, k, ceil)
			fig := func(what string, v float64) {
				b.report.Figures[fmt.Sprintf("gateway %s at %d: %s", cas, conns, what)] = v
			}
			fig("keygate added p50 ms", k.P50-direct.P50)
			fig("keygate added p99 ms", k.P99-direct.P99)
			fig("proxy added p50 ms", ceil.P50-direct.P50)
			fig("proxy added p99 ms", ceil.P99-direct.P99)
			fig("keygate rps / proxy rps", k.RPS/ceil.RPS)
			fig("keygate db writes per request", k.WritesPerRequest)
			if dbCPU != nil {
				fig("database server CPU µs per request", k.DBCPUPerRequestUS)
			}
			if stream {
				fig("keygate added first byte p50 ms", k.FirstByteP50-direct.FirstByteP50)
				fig("proxy added first byte p50 ms", ceil.FirstByteP50-direct.FirstByteP50)
			}
		}
	}
	// The profile: unstreamed chat at 64 connections, of the first replica.
	l := load{conns: 64, duration: d, maxHits: b.opt.maxHits, ok: okBody(`"Hello!"`),
		target: chatTarget(servers[2].bases, servers[2].path, "bench/chat", false, ks.secrets)}
	return b.profile(ctx, kgs[0], l, "gateway-"+strings.ReplaceAll(engine, " ", "-"))
}

// peakRSSMB sums the peak resident sets of procs, in MB.
func peakRSSMB(procs []*process) float64 {
	var hwm int64
	for _, p := range procs {
		if u, err := p.usage(); err == nil {
			hwm += u.HWM
		}
	}
	return float64(hwm) / (1 << 20)
}

// okBody accepts a 200 body containing want.
func okBody(want string) func([]byte) bool {
	return func(body []byte) bool { return bytes.Contains(body, []byte(want)) }
}
