package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/server"
)

// The replica tests run several keygate stacks on one PostgreSQL schema,
// as a load balancer would see them: each replica has its own pool, its own
// Service (and key cache) and its own HTTP server, and hears the others'
// changes only through the database. They need KEYGATE_TEST_POSTGRES
// whatever KEYGATE_TEST_ENGINE says.

// replica is one keygate stack.
type replica struct {
	name string
	db   *postgres.DB
	svc  *keygate.Service
	srv  *httptest.Server
}

// newReplicas starts n replicas on a fresh schema, each listening for
// change announcements before it is returned. The key cache keeps its
// default TTL (30s), so a change seen within a second was announced, not
// expired.
func newReplicas(t *testing.T, n int) []*replica {
	t.Helper()
	u, _ := pgtest.NewSchema(t)
	log := slog.New(slog.DiscardHandler)
	rs := make([]*replica, n)
	for i := range rs {
		r := &replica{name: fmt.Sprintf("replica-%d", i), db: pgtest.OpenURL(t, u)}
		r.svc = keygate.NewService(r.db, keygate.DefaultConfig(), keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher))

		ctx, cancel := context.WithCancel(context.Background())
		listening := make(chan struct{})
		var once sync.Once
		inv := r.svc.Invalidations()
		reset := inv.Reset
		inv.Reset = func() { reset(); once.Do(func() { close(listening) }) }
		inv.Error = func(err error) { t.Logf("%s: listener: %v", r.name, err) }
		done := make(chan struct{})
		go func() { defer close(done); r.db.Listen(ctx, inv) }()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-listening:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not listening after 10s", r.name)
		}

		r.srv = httptest.NewServer(server.New(r.svc, server.Config{PublicURL: "http://keygate.test"}, log))
		t.Cleanup(r.srv.Close)
		rs[i] = r
	}
	return rs
}

// call sends a request to r and returns the status and body. body, when
// not nil, is sent as JSON.
func (r *replica) call(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", r.name, method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// owner creates a user on rs[0] with an ordinary and a management key.
func owner(t *testing.T, rs []*replica) (u *keygate.User, userKey, mgmtKey string) {
	t.Helper()
	ctx := t.Context()
	u, err := rs[0].svc.CreateUser(ctx, "owner@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	userKey, _, err = rs[0].svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "user"})
	if err != nil {
		t.Fatal(err)
	}
	mgmtKey, _, err = rs[0].svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "mgmt", IsManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	return u, userKey, mgmtKey
}

// TestReplicaExchangeRace exchanges each of 200 codes through every
// replica at once, twice per replica: exactly one exchange wins and mints
// exactly one key, every other one is refused with 403.
func TestReplicaExchangeRace(t *testing.T) {
	const trials, perReplica = 200, 2
	rs := newReplicas(t, 3)
	u, userKey, _ := owner(t, rs)
	exchange := map[string]any{"code_verifier": V1, "code_challenge_method": "S256"}

	for trial := range trials {
		maker := rs[trial%len(rs)]
		st, b := maker.call(t, "POST", "/api/v1/auth/keys/code", userKey, s256Body())
		if st != http.StatusOK {
			t.Fatalf("trial %d: %s: create code = %d %s", trial, maker.name, st, b)
		}
		var created struct {
			Data struct{ ID string } `json:"data"`
		}
		if err := json.Unmarshal(b, &created); err != nil || created.Data.ID == "" {
			t.Fatalf("trial %d: create code body %s", trial, b)
		}
		body := map[string]any{"code": created.Data.ID}
		for k, v := range exchange {
			body[k] = v
		}

		type result struct {
			replica string
			status  int
			body    []byte
		}
		results := make(chan result, len(rs)*perReplica)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range rs {
			for range perReplica {
				wg.Go(func() {
					<-start
					st, b := r.call(t, "POST", "/api/v1/auth/keys", "", body)
					results <- result{r.name, st, b}
				})
			}
		}
		close(start)
		wg.Wait()
		close(results)

		wins := 0
		for res := range results {
			switch res.status {
			case http.StatusOK:
				wins++
			case http.StatusForbidden:
			default:
				t.Fatalf("trial %d: %s: exchange = %d %s, want 200 or 403", trial, res.replica, res.status, res.body)
			}
		}
		if wins != 1 {
			t.Fatalf("trial %d: %d exchanges won, want exactly 1", trial, wins)
		}
	}

	keys, err := rs[0].db.ListKeys(t.Context(), keygate.KeyFilter{UserID: u.ID, IncludeDisabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := trials + 2; len(keys) != want { // + the user and management keys
		t.Errorf("after %d trials the user has %d keys, want %d", trials, len(keys), want)
	}
}

// TestReplicaDisableSeenEverywhere disables a key through one replica while
// another has it cached: the other refuses it within a second. Enabling it
// again is seen the same way. Every ordered pair of replicas is tried.
func TestReplicaDisableSeenEverywhere(t *testing.T) {
	rs := newReplicas(t, 3)
	u, _, mgmtKey := owner(t, rs)
	for _, a := range rs {
		for _, b := range rs {
			if a == b {
				continue
			}
			t.Run(a.name+"-to-"+b.name, func(t *testing.T) {
				key, k, err := a.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: "shared"})
				if err != nil {
					t.Fatal(err)
				}
				// b caches the key by serving it.
				if st, body := b.call(t, "GET", "/api/v1/key", key, nil); st != http.StatusOK {
					t.Fatalf("%s: GET /api/v1/key = %d %s, want 200", b.name, st, body)
				}
				for _, step := range []struct {
					disabled bool
					want     int
				}{{true, http.StatusUnauthorized}, {false, http.StatusOK}} {
					path := "/api/v1/keys/" + k.Hash
					if st, body := a.call(t, "PATCH", path, mgmtKey, map[string]any{"disabled": step.disabled}); st != http.StatusOK {
						t.Fatalf("%s: PATCH %s disabled=%v = %d %s", a.name, path, step.disabled, st, body)
					}
					waitStatus(t, b, key, step.want, time.Second)
				}
			})
		}
	}
}

// waitStatus polls GET /api/v1/key on r with key until it answers want,
// failing after limit.
func waitStatus(t *testing.T, r *replica, key string, want int, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		st, body := r.call(t, "GET", "/api/v1/key", key, nil)
		if st == want {
			t.Logf("%s answered %d after %v", r.name, want, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: GET /api/v1/key = %d %s after %v, want %d within %v", r.name, st, body, time.Since(start).Round(time.Millisecond), want, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReplicaUsageSums records usage through every replica at once, for a
// key and for a key delegated from it: every replica then reports the
// exact sums.
func TestReplicaUsageSums(t *testing.T) {
	const workers, perWorker = 4, 100 // per replica
	rs := newReplicas(t, 3)
	_, userKey, _ := owner(t, rs)
	parent := keygate.HashSecret(userKey)

	// A key minted from a code of the user key: its usage counts for both.
	st, b := rs[1].call(t, "POST", "/api/v1/auth/keys/code", userKey, s256Body())
	if st != http.StatusOK {
		t.Fatalf("create code = %d %s", st, b)
	}
	var created struct {
		Data struct{ ID string } `json:"data"`
	}
	json.Unmarshal(b, &created)
	st, b = rs[2].call(t, "POST", "/api/v1/auth/keys", "", map[string]any{"code": created.Data.ID, "code_verifier": V1})
	if st != http.StatusOK {
		t.Fatalf("exchange = %d %s", st, b)
	}
	var minted struct{ Key string }
	json.Unmarshal(b, &minted)
	child := keygate.HashSecret(minted.Key)

	cost := func(r, w, i int) keygate.Micros { return keygate.Micros(1 + (r*31+w*7+i)%97) }
	var want keygate.Micros
	var wg sync.WaitGroup
	errs := make(chan error, len(rs)*workers)
	for ri, r := range rs {
		for w := range workers {
			for i := range perWorker {
				want += cost(ri, w, i)
			}
			wg.Go(func() {
				for i := range perWorker {
					ev := &keygate.Generation{KeyHash: child, Model: "openai/gpt-4o-mini", PromptTokens: 10, CompletionTokens: 5, Cost: cost(ri, w, i)}
					if err := r.svc.Settle(context.Background(), nil, ev); err != nil {
						errs <- fmt.Errorf("%s worker %d: Settle #%d: %w", r.name, w, i, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, h := range []string{child, parent} {
		p := keygate.PeriodsAt(time.Now())
		refs := keygate.Counters(h, p)
		rows, err := rs[0].db.UsageCounters(t.Context(), h, refs[:])
		if err != nil {
			t.Fatal(err)
		}
		got := keygate.FoldUsage(p, rows)
		if got.Total != want || got.Daily != want || got.Weekly != want || got.Monthly != want {
			t.Errorf("usage of %s… = %+v, want %d in every period", h[:8], got, want)
		}
	}
	for _, r := range rs {
		st, b := r.call(t, "GET", "/api/v1/key", minted.Key, nil)
		if st != http.StatusOK {
			t.Fatalf("%s: GET /api/v1/key = %d %s", r.name, st, b)
		}
		var info struct {
			Data struct {
				Usage float64 `json:"usage"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatal(err)
		}
		if info.Data.Usage != want.USD() {
			t.Errorf("%s: /api/v1/key usage = %v USD, want %v", r.name, info.Data.Usage, want.USD())
		}
	}
}
