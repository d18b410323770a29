package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// BenchmarkChat measures one small unstreamed and one streamed chat
// completion, straight to the upstream and through keygate (key check,
// reservation, forwarding, metering, settlement on SQLite), on loopback.
// The difference per operation is the gateway's added latency.
// "keygate-plain-64" sends the unstreamed one from 64 goroutines at once
// with one key, whose settlements the SQLite writer batches: its CPU per
// request (user+system of the benchmark over its requests) is what the
// batching saves.
func BenchmarkChat(b *testing.B) {
	e := newEnv(b)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}, Content: []string{"Hel", "lo"}})
	key := e.key(nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := `{"model":"%s","messages":[{"role":"user","content":"Say hello"}]%s}`
	do := func(b *testing.B, url, model, stream string) {
		req, _ := http.NewRequest("POST", url, strings.NewReader(strings.Replace(strings.Replace(body, "%s", model, 1), "%s", stream, 1)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var buf [4096]byte
		for {
			if _, err := res.Body.Read(buf[:]); err != nil {
				break
			}
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	for _, s := range []struct{ name, stream string }{{"plain", ""}, {"stream", `,"stream":true`}} {
		b.Run("direct-"+s.name, func(b *testing.B) {
			for b.Loop() {
				do(b, e.up.URL+"/v1/chat/completions", "cheap-v2", s.stream)
			}
		})
		b.Run("keygate-"+s.name, func(b *testing.B) {
			for b.Loop() {
				do(b, e.srv.URL+"/api/v1/chat/completions", "t/cheap", s.stream)
			}
		})
	}
	b.Run("keygate-plain-64", func(b *testing.B) {
		b.SetParallelism(32) // 64 goroutines on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				do(b, e.srv.URL+"/api/v1/chat/completions", "t/cheap", "")
			}
		})
	})
}
