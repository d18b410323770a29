package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// benchStore opens a SQLite file holding n keys of one user.
func benchStore(b *testing.B, n int) (*sqlite.DB, []string) {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	u := &keygate.User{ID: "7d0f5b7e-1c1a-4f7e-9a51-0b8d1b4c2e11", Email: "bench@example.com", PasswordHash: "!", CreatedAt: t0}
	ws := &keygate.Workspace{ID: "0c6f9a2d-5e4b-4d3a-8f1e-6b7c8d9e0f12", UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: t0}
	if err := db.CreateUser(b.Context(), u, ws); err != nil {
		b.Fatal(err)
	}
	keys := bulkKeys(ws, n)
	if err := db.BulkInsertKeys(b.Context(), keys); err != nil {
		b.Fatal(err)
	}
	hashes := make([]string, n)
	for i, k := range keys {
		hashes[i] = k.Hash
	}
	return db, hashes
}

// BenchmarkKey is the read a cache miss costs: one key by its hash, among
// 10,000.
func BenchmarkKey(b *testing.B) {
	db, hashes := benchStore(b, 10_000)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := db.Key(b.Context(), hashes[i%len(hashes)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(7919))
			for pb.Next() {
				if _, err := db.Key(b.Context(), hashes[i%len(hashes)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkKeyUsage is the read GET /api/v1/key made on every request
// before usage was cached, and still makes for a key that is not cached.
func BenchmarkKeyUsage(b *testing.B) {
	db, hashes := benchStore(b, 1_000)
	p := keygate.PeriodsAt(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := hashes[i%len(hashes)]
		want := keygate.Counters(h, p)
		if _, err := db.UsageCounters(b.Context(), h, want[:]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRecordGeneration is the settlement of one gateway request: the
// generation stored and its cost added to the key's four counters, through
// the group-commit writer. "serial" is one request at a time, a
// transaction and a commit each (a gateway at one connection); "64" is 64
// goroutines at once over 100 keys, whose settlements share transactions
// and statements; "64-4keys" the same over 4 keys, whose counters a batch
// adds up before writing them. The writes per settlement are reported as
// commits/op.
func BenchmarkRecordGeneration(b *testing.B) {
	db, hashes := benchStore(b, 100)
	now := time.Now().UTC()
	periods := keygate.PeriodsAt(now)
	var n atomic.Int64
	keys := len(hashes)
	settle := func(b *testing.B) {
		i := n.Add(1)
		h := hashes[int(i)%keys]
		counters := keygate.Counters(h, periods)
		for j := range counters {
			counters[j].Micros = 35
		}
		g := &keygate.Generation{
			ID: fmt.Sprintf("gen-bench-%d", i), KeyHash: h,
			UserID: "7d0f5b7e-1c1a-4f7e-9a51-0b8d1b4c2e11", WorkspaceID: "0c6f9a2d-5e4b-4d3a-8f1e-6b7c8d9e0f12",
			Model: "bench/chat", UpstreamModel: "bench/chat", Provider: "up", Endpoint: "chat/completions",
			PromptTokens: 10, CompletionTokens: 20, Cost: 35, FinishReason: "stop", CreatedAt: now,
		}
		if ok, _, err := db.RecordGeneration(b.Context(), &keygate.Charge{Generation: g, Counters: counters[:]}); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	run := func(name string, loop func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			w0 := db.WriteCount()
			loop(b)
			b.ReportMetric(float64(db.WriteCount()-w0)/float64(b.N), "commits/op")
		})
	}
	run("serial", func(b *testing.B) {
		for b.Loop() {
			settle(b)
		}
	})
	parallel := func(b *testing.B) {
		b.SetParallelism(32) // 64 goroutines on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				settle(b)
			}
		})
	}
	run("64", parallel)
	keys = 4
	run("64-4keys", parallel)
}
