package server_test

import (
	"net/http"
	"sync"
	"testing"
)

// TestDisableRacingReads: readers verifying a key while it is disabled
// never leave the enabled key in the cache (no grace window).
func TestDisableRacingReads(t *testing.T) {
	e := newEnv(t)
	const trials, readers = 60, 4
	for range trials {
		c := e.code(map[string]any{"callback_url": cbLocal})
		key := e.exchange(map[string]any{"code": c}).json(t)["key"].(string)
		var hash string
		for _, k := range e.do("GET", "/api/v1/keys?include_disabled=true", nil, "Authorization", "Bearer "+e.mgmtKey).json(t)["data"].([]any) {
			m := k.(map[string]any)
			if m["label"] == "localhost:3000" && m["disabled"] == false {
				hash = m["hash"].(string)
			}
		}
		var wg sync.WaitGroup
		for range readers {
			wg.Go(func() {
				for range 5 {
					e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key)
				}
			})
		}
		if r := e.do("PATCH", "/api/v1/keys/"+hash, map[string]any{"disabled": true}, "Authorization", "Bearer "+e.mgmtKey); r.status != http.StatusOK {
			t.Fatalf("PATCH: %d %s", r.status, r.body)
		}
		wg.Wait()
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != http.StatusUnauthorized {
			t.Fatalf("disabled key after racing reads: %d, want 401", r.status)
		}
	}
}
