package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate"
)

// TestUpdateKeyConcurrentPatches sends, at the same moment, a PATCH that
// disables a key and a PATCH that renames it. Both answer 200, so both
// changes must hold: a disable that a concurrent rename silently undoes
// would leave a key working that its owner was told is off.
func TestUpdateKeyConcurrentPatches(t *testing.T) {
	const trials = 60
	e := newEnv(t)
	patches := []string{`{"disabled":true}`, `{"name":"renamed"}`}
	for trial := range trials {
		key, d := e.createKey(map[string]any{"name": fmt.Sprintf("trial-%d", trial)})
		hash := d["hash"].(string)
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != http.StatusOK {
			t.Fatalf("trial %d: GET /key before the PATCHes: %d", trial, r.status)
		}

		errs := make([]error, len(patches))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, body := range patches {
			wg.Go(func() {
				<-start
				errs[i] = e.patchOK(hash, body)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d: PATCH %s: %v", trial, patches[i], err)
			}
		}

		k, err := e.store.Key(context.Background(), hash)
		if err != nil {
			t.Fatalf("trial %d: stored key: %v", trial, err)
		}
		if !k.Disabled || k.Name != "renamed" || k.Label != "renamed" {
			t.Fatalf("trial %d: stored key disabled=%v name=%q label=%q after both PATCHes answered 200, want disabled=true name=label=\"renamed\"",
				trial, k.Disabled, k.Name, k.Label)
		}
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != http.StatusUnauthorized {
			t.Fatalf("trial %d: GET /key after the disabling PATCH: %d, want 401", trial, r.status)
		}
	}
}

// TestReplayRevocationConcurrentPatch replays a used code (with its
// verifier, so the key minted from it is revoked) at the same moment as
// its owner renames that key. The revocation must hold: a rename that
// read the key before the revocation must not write it back enabled.
func TestReplayRevocationConcurrentPatch(t *testing.T) {
	const trials = 60
	e := newEnv(t)
	for trial := range trials {
		code := e.code(s256Body())
		r := e.exchange(map[string]any{"code": code, "code_verifier": V1})
		if r.status != http.StatusOK {
			t.Fatalf("trial %d: exchange: %d %s", trial, r.status, r.body)
		}
		key := r.json(t)["key"].(string)
		hash := keygate.HashSecret(key)

		var replay, rename error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			replay = e.send("POST", "/api/v1/auth/keys", "", `{"code":"`+code+`","code_verifier":"`+V1+`"}`, http.StatusForbidden)
		})
		wg.Go(func() {
			<-start
			rename = e.send("PATCH", "/api/v1/keys/"+hash, e.mgmtKey, `{"name":"renamed"}`, http.StatusOK)
		})
		close(start)
		wg.Wait()
		if replay != nil || rename != nil {
			t.Fatalf("trial %d: replay: %v; rename: %v", trial, replay, rename)
		}

		k, err := e.store.Key(context.Background(), hash)
		if err != nil {
			t.Fatalf("trial %d: stored key: %v", trial, err)
		}
		if !k.Disabled || k.Name != "renamed" {
			t.Fatalf("trial %d: stored key disabled=%v name=%q after the replay and the rename, want disabled=true name=\"renamed\"", trial, k.Disabled, k.Name)
		}
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != http.StatusUnauthorized {
			t.Fatalf("trial %d: GET /key with the replayed code's key: %d, want 401", trial, r.status)
		}
	}
}

// patchOK sends PATCH /api/v1/keys/{hash} with the management key and
// returns an error unless it answers 200 with a data object.
func (e *env) patchOK(hash, body string) error {
	return e.send("PATCH", "/api/v1/keys/"+hash, e.mgmtKey, body, http.StatusOK)
}

// send sends a JSON body with key as the bearer ("" for none) and returns
// an error unless the answer has the status want and, for a 200, a data
// object. It is safe to call from any goroutine (it does not use e.t).
func (e *env) send(method, path, key, body string, want int) error {
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if want == http.StatusOK {
		var v struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Data == nil {
			return fmt.Errorf("%s %s: body %s is not {\"data\":{…}}", method, path, b)
		}
	}
	return nil
}
