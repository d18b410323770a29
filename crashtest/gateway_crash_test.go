package crashtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
	"github.com/keygate/keygate/sqlite"
)

// gatewayCost is what one answer of the test upstream costs: 10 prompt
// tokens at US$0.50 and 20 completion tokens at US$1.50 per million.
const gatewayCost = keygate.Micros(10*0.5 + 20*1.5)

// TestGatewayCrash: `keygate serve` on SQLite, metering chat completions
// for 8 clients, is SIGKILLed three times once 300 more answers came back
// 200, and restarted on the same file; at the end every 200 (named by its
// X-Generation-Id) is charged exactly once, at its price, and the key's
// usage is the sum of the stored generations to the micro-dollar. Charges
// are acknowledged from the charge journal before they commit, so the
// kills find charges that only the journal holds, which the restart
// commits.
func TestGatewayCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keygate and kills it")
	}
	bin := buildKeygate(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "keygate.db")
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc := keygate.NewService(store, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.DiscardHandler)))
	u, err := svc.CreateUser(ctx, userEmail, userPassword)
	if err != nil {
		t.Fatal(err)
	}
	limit := 1_000_000.0 // USD: never reached, checked on every request
	secret, k, err := svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "crash", LimitUSD: &limit, LimitReset: "daily"})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()

	up := upstreamtest.New(func(*upstreamtest.Request) upstreamtest.Reply {
		return upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}
	})
	defer up.Close()
	models := filepath.Join(dir, "models.yaml")
	conf := fmt.Sprintf("upstreams:\n  local:\n    base_url: %s/v1\nmodels:\n  - name: acme/small\n    upstream: local\n    pricing: {prompt: 0.50, completion: 1.50}\n", up.URL)
	if err := os.WriteFile(models, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "keygate.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	var mu sync.Mutex
	acked := map[string]bool{}
	for round := range rounds {
		p := startKeygate(t, bin, db, logFile, "--models", models)
		var oks atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var once sync.Once
		for range loadWorkers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					id, status, err := chat(p.base, secret)
					if err != nil {
						return // the process is gone
					}
					if status != http.StatusOK {
						t.Errorf("round %d: chat = %d, want 200", round, status)
						return
					}
					mu.Lock()
					if acked[id] {
						t.Errorf("generation id %s answered twice", id)
					}
					acked[id] = true
					mu.Unlock()
					if oks.Add(1) == 300 {
						once.Do(func() {
							p.kill(t)
							close(stop)
						})
					}
				}
			})
		}
		wg.Wait()
		once.Do(func() { p.kill(t); close(stop) })
		t.Logf("round %d: killed after %d answers", round, oks.Load())
	}

	store, err = sqlite.Open(ctx, db) // commits what the journal held
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc = keygate.NewService(store, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.DiscardHandler)))
	for id := range acked {
		g, err := svc.Generation(ctx, u.ID, id)
		if err != nil {
			t.Fatalf("answered %s: %v", id, err)
		}
		if g.Cost != gatewayCost || g.KeyHash != k.Hash {
			t.Fatalf("answered %s: cost %d µ$ to %s, want %d", id, g.Cost, g.KeyHash[:8], gatewayCost)
		}
	}
	stored, sum := storedGenerations(t, db, k.Hash)
	if stored < int64(len(acked)) {
		t.Errorf("%d generations stored, fewer than the %d answered", stored, len(acked))
	}
	info, err := svc.KeyInfo(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if sum != info.Usage.Total || info.Usage.Total != info.Usage.Daily {
		t.Errorf("usage %+v, want the %d µ$ of the %d stored generations in total and daily", info.Usage, sum, stored)
	}
	integrityCheck(t, db)
	t.Logf("%d answered 200, %d stored (the rest were charged before the kill cut their answer), %d µ$", len(acked), stored, sum)
}

// chat sends one unstreamed chat completion with key and returns the
// answer's X-Generation-Id and status; err is a transport error.
func chat(base, key string) (string, int, error) {
	req, err := http.NewRequest("POST", base+"/api/v1/chat/completions",
		strings.NewReader(`{"model":"acme/small","messages":[{"role":"user","content":"hi"}],"max_tokens":50}`))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return "", 0, err // cut by the kill: not an answer
	}
	return res.Header.Get("X-Generation-Id"), res.StatusCode, nil
}
