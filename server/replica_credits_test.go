package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestReplicaCredits: every replica has the user's balance cached (each
// verified a key); usage charged through one replica spends the balance
// and every replica answers 402 within a second; a grant through another
// replica restores service on every replica within a second, while the
// cache's own lifetime is 30 seconds.
func TestReplicaCredits(t *testing.T) {
	rs := newReplicas(t, 3)
	u, userKey, _ := owner(t, rs)
	if _, err := rs[0].svc.GrantCredits(t.Context(), u.Email, "0.0001", ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		waitVerify(t, r, userKey, http.StatusOK, time.Second)
	}
	cost := keygate.Micros(100)
	rep, err := rs[1].svc.ReportUsage(t.Context(), []keygate.UsageEvent{{ID: "spend", Key: userKey, Model: "m", Cost: &cost}}, nil)
	if err != nil || rep.Accepted != 1 {
		t.Fatalf("ReportUsage = %+v, %v", rep, err)
	}
	for _, r := range rs {
		waitVerify(t, r, userKey, http.StatusPaymentRequired, time.Second)
	}
	if _, err := rs[2].svc.GrantCredits(t.Context(), u.Email, "1", ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		waitVerify(t, r, userKey, http.StatusOK, time.Second)
	}
}

// waitVerify polls GET /api/v1/auth/verify on r with key until it answers
// want, failing after limit.
func waitVerify(t *testing.T, r *replica, key string, want int, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		st, body := r.call(t, "GET", "/api/v1/auth/verify", key, nil)
		if st == want {
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: verify = %d %s after %v, want %d", r.name, st, body, time.Since(start).Round(time.Millisecond), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
