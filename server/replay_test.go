package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate"
)

// TestExchangeRace: 8 clients race to exchange one code, 500 times over
// HTTP. Six hold the right verifier, two a wrong one. In every trial
// exactly one exchange wins (RFC 6749 §4.1.2: a code is used once), every
// other gets 403 "Invalid code or code_verifier", never a 5xx; each loser
// that held the verifier is a replay (audited as code.replay_detected, and
// the key the winner got is disabled), while a wrong verifier is neither.
func TestExchangeRace(t *testing.T) {
	const (
		trials  = 500
		racers  = 8
		holders = 6 // racers with the right verifier; the rest send a wrong one
	)
	e := newEnv(t)
	ctx := context.Background()
	client := e.srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = racers
	type result struct {
		status int
		body   []byte
	}
	wrong := "wrong-verifier-wrong-verifier-wrong-verifier-00"
	for trial := range trials {
		code := e.code(s256Body())
		results := make([]result, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			verifier := V1
			if i >= holders {
				verifier = wrong
			}
			body, _ := json.Marshal(map[string]string{"code": code, "code_verifier": verifier})
			wg.Go(func() {
				<-start
				res, err := client.Post(e.srv.URL+"/api/v1/auth/keys", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				results[i] = result{res.StatusCode, b}
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		winners, replays := 0, 0
		var key string
		for i, r := range results {
			switch {
			case r.status == http.StatusOK:
				if i >= holders {
					t.Fatalf("trial %d: racer %d won with a wrong verifier", trial, i)
				}
				winners++
				var ok struct{ Key string }
				json.Unmarshal(r.body, &ok)
				key = ok.Key
			case r.status == http.StatusForbidden && strings.Contains(string(r.body), keygate.MsgInvalidCode):
				if i < holders {
					replays++
				}
			default:
				t.Fatalf("trial %d: racer %d got %d %s, want 200 or 403 %q", trial, i, r.status, r.body, keygate.MsgInvalidCode)
			}
		}
		if winners != 1 {
			t.Fatalf("trial %d: %d winners, want exactly 1", trial, winners)
		}
		// This trial's events are the newest: the handlers wrote them
		// before they answered.
		events, err := e.store.ListAudit(ctx, 4*racers)
		if err != nil {
			t.Fatal(err)
		}
		codeDetail := "code " + keygate.HashSecret(code)[:12]
		keyPrefix := keygate.HashSecret(key)[:12]
		replayEvents, exchanged := 0, 0
		for _, ev := range events {
			switch {
			case ev.Action == keygate.AuditReplayDetected && ev.Detail == codeDetail:
				replayEvents++
				if ev.KeyHashPrefix != keyPrefix || ev.ActorUserID != e.user.ID || ev.AppID == nil || ev.ClientIP == "" {
					t.Fatalf("trial %d: replay event %+v: want the winner's key %s, the user, the app and the client IP", trial, ev, keyPrefix)
				}
			case ev.Action == keygate.AuditCodeExchanged && ev.KeyHashPrefix == keyPrefix:
				exchanged++
			}
		}
		if replayEvents != replays || exchanged != 1 {
			t.Fatalf("trial %d: %d replay events for %d losers holding the verifier, %d exchange events; want equal and 1", trial, replayEvents, replays, exchanged)
		}
		k, err := e.store.Key(ctx, keygate.HashSecret(key))
		if err != nil || !k.Disabled {
			t.Fatalf("trial %d: the winner's key after %d replays: %+v %v, want disabled", trial, replays, k, err)
		}
	}
}

// TestReplayWrongVerifierRace: when only the winner holds the verifier and
// the other racers guess, nobody is treated as a replay and the key the
// winner got keeps working (revoking it would punish the victim).
func TestReplayWrongVerifierRace(t *testing.T) {
	e := newEnv(t)
	for trial := range 50 {
		code := e.code(s256Body())
		statuses := make([]int, 8)
		var key string
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range statuses {
			verifier := "guess-guess-guess-guess-guess-guess-guess-0" + string(rune('a'+i))
			if i == 0 {
				verifier = V1
			}
			wg.Go(func() {
				<-start
				body, _ := json.Marshal(map[string]string{"code": code, "code_verifier": verifier})
				res, err := e.srv.Client().Post(e.srv.URL+"/api/v1/auth/keys", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				r := &response{status: res.StatusCode, body: b}
				statuses[i] = r.status
				if i == 0 && r.status == 200 {
					var ok struct{ Key string }
					json.Unmarshal(r.body, &ok)
					key = ok.Key
				}
			})
		}
		close(start)
		wg.Wait()
		if statuses[0] != 200 {
			t.Fatalf("trial %d: the holder of the verifier got %d", trial, statuses[0])
		}
		for i, s := range statuses[1:] {
			if s != http.StatusForbidden {
				t.Fatalf("trial %d: guesser %d got %d, want 403", trial, i+1, s)
			}
		}
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 200 {
			t.Fatalf("trial %d: the key after wrong-verifier attempts: %d, want 200", trial, r.status)
		}
	}
	events, _ := e.store.ListAudit(context.Background(), 1000)
	for _, ev := range events {
		if ev.Action == keygate.AuditReplayDetected {
			t.Fatalf("replay event %+v after attempts with wrong verifiers only", ev)
		}
	}
}
