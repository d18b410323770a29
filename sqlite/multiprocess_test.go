package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// TestTwoHandles races writers from two DBs open on one file, as two
// keygate processes would be: each has its own writer connection, so here
// SQLite's file lock (BEGIN IMMEDIATE, busy_timeout) does the serialising
// rather than the pool.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keygate.db")
	dbs := []*sqlite.DB{openAt(t, path), openAt(t, path)}
	t0 := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

	u := &keygate.User{ID: "u1", Email: "a@example.com", PasswordHash: "h", CreatedAt: t0}
	ws := &keygate.Workspace{ID: "w1", Name: "Default", Slug: "default", CreatedAt: t0}
	if err := dbs[0].CreateUser(ctx, u, ws); err != nil {
		t.Fatal(err)
	}
	newKey := func() *keygate.APIKey {
		return &keygate.APIKey{
			Hash: keygate.HashSecret(keygate.NewKey(keygate.DefaultKeyPrefix)), UserID: u.ID,
			WorkspaceID: ws.ID, CreatedAt: t0,
		}
	}

	t.Run("Redeem", func(t *testing.T) {
		const racersPerDB, trials = 8, 20
		for trial := range trials {
			c := &keygate.AuthCode{
				Hash: keygate.HashSecret(keygate.NewCode()), UserID: u.ID, WorkspaceID: ws.ID,
				CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
			}
			if err := dbs[1].CreateAuthCode(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			wins := 0
			var wg sync.WaitGroup
			for i := range 2 * racersPerDB {
				wg.Go(func() {
					err := dbs[i%2].RedeemAuthCode(ctx, c.Hash, t0, newKey(), nil)
					switch {
					case err == nil:
						mu.Lock()
						wins++
						mu.Unlock()
					case !errors.Is(err, keygate.ErrCodeUsed):
						t.Errorf("trial %d: RedeemAuthCode = %v, want nil or ErrCodeUsed", trial, err)
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("trial %d: %d winners, want 1", trial, wins)
			}
		}
	})

	t.Run("Usage", func(t *testing.T) {
		const workersPerDB, perWorker = 4, 250
		k := newKey()
		if err := dbs[0].CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		p := keygate.PeriodsAt(t0)
		var wg sync.WaitGroup
		for w := range 2 * workersPerDB {
			wg.Go(func() {
				for i := range perWorker {
					g := &keygate.Generation{ID: fmt.Sprintf("gen-%d-%d", w, i), KeyHash: k.Hash, Model: "m", Cost: 3, CreatedAt: t0}
					add := keygate.Counters(k.Hash, p)
					for j := range add {
						add[j].Micros = g.Cost
					}
					if _, _, err := dbs[w%2].RecordGeneration(ctx, &keygate.Charge{Generation: g, Counters: add[:]}); err != nil {
						t.Errorf("RecordGeneration: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		// The process that keeps the journal commits its charges within
		// journalDelay; the other sees them then.
		for _, db := range dbs {
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		want := keygate.Counters(k.Hash, p)
		rows, err := dbs[1].UsageCounters(ctx, k.Hash, want[:])
		if err != nil {
			t.Fatal(err)
		}
		got := keygate.FoldUsage(p, rows)
		if want := keygate.Micros(3 * 2 * workersPerDB * perWorker); got.Total != want || got.Weekly != want {
			t.Errorf("usage = {Total %d, Weekly %d}, want %d for both", got.Total, got.Weekly, want)
		}
	})
}
