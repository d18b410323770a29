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
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

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
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
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
// the keys of secrets in turn.
func chatTarget(base, path, model string, stream bool, secrets []string) vegeta.Targeter {
	var n atomic.Uint64
	body := fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":"Say hello"}],"stream":%t}`, model, stream)
	u := base + path
	return func(t *vegeta.Target) error {
		i := (n.Add(1) - 1) % uint64(len(secrets))
		t.Method = http.MethodPost
		t.URL = u
		t.Body = body
		t.Header = http.Header{"Authorization": {"Bearer " + secrets[i]}, "Content-Type": {"application/json"}}
		return nil
	}
}

// runGateway measures a small chat completion, unstreamed and streamed,
// straight to the upstream, through the bare reverse proxy, and through
// keygate's gateway (key check, reservation, forwarding, metering,
// settlement on SQLite), in alternating rounds at 1 and 64 connections.
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
	db := filepath.Join(b.dir, "gateway.db")
	if err := seedSQLite(ctx, db, ks); err != nil {
		return err
	}
	models := filepath.Join(b.dir, "models.yaml")
	yaml := fmt.Sprintf("upstreams:\n  up: {base_url: %q}\nmodels:\n  - {name: bench/chat, upstream: up, pricing: {prompt: 0.50, completion: 1.50}}\n", up.URL()+"/v1")
	if err := os.WriteFile(models, []byte(yaml), 0o600); err != nil {
		return err
	}
	kg, err := b.startKeygate(ctx, "gateway", db, "--models", models)
	if err != nil {
		return err
	}
	defer kg.stop()

	for _, stream := range []bool{false, true} {
		cas, ok := "chat", okBody(`"Hello!"`)
		if stream {
			cas, ok = "chat stream", okBody("data: [DONE]")
		}
		for _, conns := range []int{1, 64} {
			b.logf("gateway %s at %d connections", cas, conns)
			loadFor := func(p *process) load {
				base, path := p.URL(), "/v1/chat/completions"
				if p == kg {
					path = "/api/v1/chat/completions"
				}
				return load{conns: conns, duration: b.opt.duration, maxHits: b.opt.maxHits, ok: ok,
					target: chatTarget(base, path, "bench/chat", stream, ks.secrets)}
			}
			var ms [3]measurement
			servers := []*process{up, proxy, kg}
			for i := range b.opt.rounds {
				for j, p := range servers {
					r, err := attack(ctx, loadFor(p), p)
					if err != nil {
						return err
					}
					b.logf("  round %d %-8s %8.0f req/s  %d errors", i+1, p.name, float64(r.requests)/r.elapsed.Seconds(), r.errors)
					ms[j].add(r)
				}
			}
			direct, ceil, k := ms[0].summary(), ms[1].summary(), ms[2].summary()
			b.report.Rows = append(b.report.Rows, row{Scenario: "gateway", Case: cas, Server: "upstream", Conns: conns, stats: direct})
			b.report.addPair("gateway", cas, conns, k, ceil)
			b.report.Figures[fmt.Sprintf("gateway %s: keygate added p50 ms over direct at %d", cas, conns)] = k.P50 - direct.P50
			b.report.Figures[fmt.Sprintf("gateway %s: keygate added p99 ms over direct at %d", cas, conns)] = k.P99 - direct.P99
			b.report.Figures[fmt.Sprintf("gateway %s: proxy added p50 ms over direct at %d", cas, conns)] = ceil.P50 - direct.P50
		}
	}
	b.report.note("gateway: the ceiling is a bare httputil.ReverseProxy in front of the same upstream; the upstream row is the same load sent straight to it; latencies are to the last byte, streams included")
	return nil
}

// okBody accepts a 200 body containing want.
func okBody(want string) func([]byte) bool {
	return func(body []byte) bool { return bytes.Contains(body, []byte(want)) }
}
