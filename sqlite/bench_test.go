package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// benchStore opens a SQLite file holding n keys of one user.
func benchStore(b *testing.B, n int, opts ...sqlite.Option) (*sqlite.DB, []string) {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "keygate.db"), opts...)
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
	// Open it again, as a server starts on an existing file: closing
	// checkpoints the writes into the file and removes the WAL, whose
	// pages would otherwise be read from it.
	path := db.Path()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db, err = sqlite.Open(b.Context(), path, opts...); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
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

// BenchmarkKeyMiss is what a key cache miss reads: the key and its usage
// counters, as two reads (Key, then UsageCounters) or one statement
// (KeyWithUsage), among 100,000 keys in uniform order, with the file read
// through memory-mapped I/O (the default) or through read calls into a
// 2 MiB page cache (SQLite's own default).
func BenchmarkKeyMiss(b *testing.B) {
	p := keygate.PeriodsAt(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC))
	for _, tune := range []struct {
		name string
		opts []sqlite.Option
	}{
		{"mmap", nil},
		{"no-mmap", []sqlite.Option{sqlite.WithMmapSize(0), sqlite.WithCacheSize(2 << 20)}},
	} {
		db, hashes := benchStore(b, 100_000, tune.opts...)
		for _, read := range []struct {
			name string
			fn   func(h string, want []keygate.UsageCounter) error
		}{
			{"two-reads", func(h string, want []keygate.UsageCounter) error {
				if _, err := db.Key(b.Context(), h); err != nil {
					return err
				}
				_, err := db.UsageCounters(b.Context(), h, want)
				return err
			}},
			{"one-statement", func(h string, want []keygate.UsageCounter) error {
				_, _, err := db.KeyWithUsage(b.Context(), h, want)
				return err
			}},
		} {
			b.Run(tune.name+"/"+read.name, func(b *testing.B) {
				b.ReportAllocs()
				defer reportCPU(b)()
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						// A stride that visits every key before any again.
						h := hashes[int(next.Add(7919))%len(hashes)]
						want := keygate.Counters(h, p)
						if err := read.fn(h, want[:]); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// reportCPU reports the process's CPU time (user and system) per
// operation from its call to the call of the function it returns, as
// cpu-ns/op: on a shared machine, steadier than the time per operation.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// BenchmarkKeyUsageHistory is BenchmarkKeyUsage for a key used on each of
// the last 400 days: 400 day, 58 week and 14 month counter rows, of which
// a read wants four.
func BenchmarkKeyUsageHistory(b *testing.B) {
	db, hashes := benchStore(b, 10)
	h := hashes[0]
	day := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for i := range 400 {
		at := day.AddDate(0, 0, -i)
		g := &keygate.Generation{ID: fmt.Sprintf("gen-%d", i), KeyHash: h, Model: "m", Cost: 1, CreatedAt: at}
		counters := keygate.Counters(h, keygate.PeriodsAt(at))
		for j := range counters {
			counters[j].Micros = 1
		}
		if _, _, err := db.RecordGeneration(b.Context(), &keygate.Charge{Generation: g, Counters: counters[:]}); err != nil {
			b.Fatal(err)
		}
	}
	want := keygate.Counters(h, keygate.PeriodsAt(day))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		got, err := db.UsageCounters(b.Context(), h, want[:])
		if err != nil || len(got) != 4 {
			b.Fatalf("UsageCounters = %d rows, %v; want 4", len(got), err)
		}
	}
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

// BenchmarkRecordGeneration measures one settlement in the store: a
// generation stored and its cost added to the key's four counters, with
// the charge journal ("journal": acknowledged once journaled, committed
// in batches behind it every 50 ms, all but the last inside the timing) and
// without it ("commit": acknowledged after its group commit). "serial" is
// one request at a time (a gateway at one connection); "64" is 64
// goroutines at once over 100 keys; "64-4keys" the same over 4 keys, whose
// counters a batch adds up before writing them. The writes per settlement
// are reported as commits/op.
func BenchmarkRecordGeneration(b *testing.B) {
	for _, mode := range []struct {
		name    string
		journal bool
	}{{"journal", true}, {"commit", false}} {
		b.Run(mode.name, func(b *testing.B) { benchRecordGeneration(b, sqlite.WithChargeJournal(mode.journal)) })
	}
}

func benchRecordGeneration(b *testing.B, opt sqlite.Option) {
	db, hashes := benchStore(b, 100, opt)
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
			if err := db.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
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
