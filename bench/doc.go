// Command bench measures keygate on its hot paths under a bounded load on
// loopback, side by side with a ceiling server that does only the minimum
// work of a key verifier, and prints a table and writes a JSON file of
// requests per second, p50/p90/p99 latency, errors, CPU seconds and peak
// RSS of each server.
//
// Usage:
//
//	go run ./bench <scenario> [flags]
//
// Scenarios:
//
//	verify   GET /api/v1/key with 10,000 distinct keys at 16, 64 and 256 connections,
//	         then GET /api/v1/auth/verify (forward-auth) with the same keys
//	flow     one sign-in: POST /api/v1/auth/keys/code, then POST /api/v1/auth/keys
//	         with a fresh PKCE verifier; on SQLite, and on PostgreSQL when a URL is given
//	scale    verify at 64 connections with 10,000 keys in the store and with
//	         1,000,000 (seeded in bulk, every key cached before measuring), and
//	         the memory each cached key costs
//	gateway  a small chat completion, unstreamed and streamed, at 1 and 64
//	         connections: straight to an upstream (gateway/upstreamtest), through
//	         a bare httputil.ReverseProxy, and through keygate's gateway
//	ceiling  the ceiling server alone
//	all      every scenario above but ceiling, whose rounds every scenario runs anyway
//
// keygate is built from this module with `go build` into a temporary
// directory and run as a process of its own, on a temporary SQLite file (or
// a fresh schema of the PostgreSQL database given by --postgres or
// KEYGATE_TEST_POSTGRES), with the rate limit off. The ceiling server is
// this program run again with a hidden argument, so that both servers are
// processes whose CPU time (utime+stime of /proc/<pid>/stat) and peak RSS
// (VmHWM of /proc/<pid>/status) can be read the same way. The load comes
// from github.com/tsenart/vegeta/v12 used as a library, with as many
// workers as connections and no pacing (a closed loop), bounded both in
// time and in requests. Each figure is taken in alternating rounds,
// ceiling then keygate, repeated, because the machine may be shared and
// noisy; ratios compare rounds of the same run.
//
// Everything listens on 127.0.0.1 only.
package main
