package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestCLIChangeReachesServer runs `keygate serve` on a SQLite file and,
// while the server holds a key in its cache, disables or deletes the key
// with the CLI on the same file, as an operator would: the server refuses
// the key within a second, well before its cache would expire (30s).
func TestCLIChangeReachesServer(t *testing.T) {
	db := newCLIDatabase(t)
	cfg := testServeConfig(t)
	cfg.Addr, cfg.Database = freeAddr(t), db
	m := openMain(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Run: %v", err)
		}
	})

	status := func(t *testing.T, key string) int {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+cfg.Addr+"/api/v1/key", nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0 // not listening yet
		}
		res.Body.Close()
		return res.StatusCode
	}
	// within waits up to d for key to answer want, and returns how long
	// that took, failing the test if it never does.
	within := func(t *testing.T, key string, want int, d time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			got := status(t, key)
			if got == want {
				return time.Since(start)
			}
			if time.Since(start) > d {
				t.Fatalf("GET /api/v1/key = %d after %v, want %d", got, d, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	within(t, "", http.StatusUnauthorized, 10*time.Second) // the server is up

	for _, verb := range []string{"disable", "delete"} {
		t.Run(verb, func(t *testing.T) {
			key := strings.TrimSpace(mustCLI(t, "", "keys", "create", "--user", "alice@example.com", "--name", verb, "--database", db))
			within(t, key, http.StatusOK, time.Second) // cached now

			mustCLI(t, "", "keys", verb, keygate.HashSecret(key), "--database", db)
			took := within(t, key, http.StatusUnauthorized, time.Second)
			t.Logf("refused %v after `keys %s`", took, verb)
		})
	}
}
