package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var codeTests = []test{
	{"RoundTrip", testCodeRoundTrip},
	{"Conflict", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		c := newCode(t, s, ws)
		dup := codeFor(ws)
		dup.Hash = c.Hash
		wantErr(t, "CreateAuthCode(same hash)", s.CreateAuthCode(t.Context(), dup, nil), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		newCode(t, s, ws)
		_, err := s.AuthCode(t.Context(), keygate.HashSecret("unknown"))
		wantErr(t, "AuthCode(unknown)", err, keygate.ErrNotFound)
	}},
	{"Redeem", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		c := newCode(t, s, ws)
		k := keyFor(ws, at(time.Minute))
		must(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), k, nil))

		got, err := s.AuthCode(ctx, c.Hash)
		must(t, "AuthCode", err)
		want := *c
		want.UsedAt, want.KeyHash = ptr(at(time.Minute)), k.Hash
		diff(t, "AuthCode after redeem", &want, got)
		wantUTC(t, "AuthCode.UsedAt", got.UsedAt)

		gotKey, err := s.Key(ctx, k.Hash)
		must(t, "Key(minted)", err)
		diff(t, "Key(minted)", k, gotKey)
	}},
	{"RedeemTwice", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		c := newCode(t, s, ws)
		first, second := keyFor(ws, at(time.Minute)), keyFor(ws, at(2*time.Minute))
		must(t, "RedeemAuthCode(first)", s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), first, nil))
		wantErr(t, "RedeemAuthCode(second)", s.RedeemAuthCode(ctx, c.Hash, at(2*time.Minute), second, nil), keygate.ErrCodeUsed)

		_, err := s.Key(ctx, second.Hash)
		wantErr(t, "Key(second)", err, keygate.ErrNotFound)
		got, err := s.AuthCode(ctx, c.Hash)
		must(t, "AuthCode", err)
		want := *c
		want.UsedAt, want.KeyHash = ptr(at(time.Minute)), first.Hash
		diff(t, "AuthCode after second redeem", &want, got)
	}},
	{"RedeemMissing", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		k := keyFor(ws, t0)
		wantErr(t, "RedeemAuthCode(unknown)", s.RedeemAuthCode(t.Context(), keygate.HashSecret("nope"), t0, k, nil), keygate.ErrNotFound)
		_, err := s.Key(t.Context(), k.Hash)
		wantErr(t, "Key(not minted)", err, keygate.ErrNotFound)
	}},
	{"RedeemKeyConflict", func(t *testing.T, s keygate.Store) {
		// A failed key insert rolls back the claim: the code stays usable.
		ctx := t.Context()
		_, ws := newUser(t, s)
		c := newCode(t, s, ws)
		existing := newKey(t, s, ws, t0)
		dup := keyFor(ws, at(time.Minute))
		dup.Hash = existing.Hash
		wantErr(t, "RedeemAuthCode(duplicate key)", s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), dup, nil), keygate.ErrConflict)
		got, err := s.AuthCode(ctx, c.Hash)
		must(t, "AuthCode", err)
		if got.UsedAt != nil || got.KeyHash != "" {
			t.Fatalf("AuthCode after failed redeem = {UsedAt %v, KeyHash %q}, want unused", got.UsedAt, got.KeyHash)
		}
		must(t, "RedeemAuthCode(retry)", s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), keyFor(ws, at(time.Minute)), nil))
	}},
	{"RedeemConcurrent", testRedeemConcurrent},
	{"DeleteExpired", testDeleteExpiredCodes},
}

func testCodeRoundTrip(t *testing.T, s keygate.Store) {
	u, ws := newUser(t, s)
	app := newApp(t, s, "https://chat.example.com")
	parent := newKey(t, s, ws, t0)
	tests := []struct {
		name string
		code *keygate.AuthCode
	}{
		{"Minimal", codeFor(ws)},
		{"Full", &keygate.AuthCode{
			Hash:                keygate.HashSecret(keygate.NewCode()),
			UserID:              u.ID,
			WorkspaceID:         ws.ID,
			AppID:               app.ID,
			ParentKeyHash:       parent.Hash,
			CreatorKeyHash:      parent.Hash,
			CallbackURL:         "https://chat.example.com/cb?x=1&y=%20",
			CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			CodeChallengeMethod: "S256",
			Limit:               ptr(keygate.Micros(12_500_000)),
			LimitReset:          keygate.ResetWeekly,
			KeyLabel:            "Chat (laptop) ✓",
			KeyExpiresAt:        ptr(at(30 * 24 * time.Hour)),
			CreatedAt:           t0,
			ExpiresAt:           at(10 * time.Minute),
		}},
		{"PlainZeroLimit", &keygate.AuthCode{
			Hash:                keygate.HashSecret(keygate.NewCode()),
			UserID:              u.ID,
			WorkspaceID:         ws.ID,
			CreatorKeyHash:      parent.Hash, // a management key: no parent
			CodeChallenge:       "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
			CodeChallengeMethod: "plain",
			Limit:               ptr(keygate.Micros(0)), // a real cap, not "none"
			LimitReset:          keygate.ResetDaily,
			CreatedAt:           t0,
			ExpiresAt:           at(10 * time.Minute),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), tt.code, nil))
			got, err := s.AuthCode(t.Context(), tt.code.Hash)
			must(t, "AuthCode", err)
			diff(t, "AuthCode", tt.code, got)
			wantUTC(t, "AuthCode", &got.CreatedAt, &got.ExpiresAt, got.KeyExpiresAt)
		})
	}
}

// testRedeemConcurrent races 16 exchanges of one code, 50 times: each time
// exactly one wins and exactly its key is stored.
func testRedeemConcurrent(t *testing.T, s keygate.Store) {
	const racers, trials = 16, 50
	ctx := t.Context()
	_, ws := newUser(t, s)
	start := time.Now()
	for trial := range trials {
		c := newCode(t, s, ws)
		keys := make([]*keygate.APIKey, racers)
		errs := make([]error, racers)
		for i := range keys {
			keys[i] = keyFor(ws, at(time.Minute))
		}
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { errs[i] = s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), keys[i], nil) })
		}
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("trial %d: racers %d and %d both redeemed the code", trial, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, keygate.ErrCodeUsed):
				t.Fatalf("trial %d: racer %d: RedeemAuthCode = %v, want nil or ErrCodeUsed", trial, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("trial %d: no racer redeemed the code", trial)
		}
		for i, k := range keys {
			_, err := s.Key(ctx, k.Hash)
			if i == winner {
				wantErr(t, "Key(winner's)", err, nil)
			} else {
				wantErr(t, "Key(loser's)", err, keygate.ErrNotFound)
			}
		}
		got, err := s.AuthCode(ctx, c.Hash)
		must(t, "AuthCode", err)
		if got.KeyHash != keys[winner].Hash {
			t.Fatalf("trial %d: AuthCode.KeyHash = %s, want the winner's %s", trial, got.KeyHash, keys[winner].Hash)
		}
	}
	keys, err := s.ListKeys(ctx, keygate.KeyFilter{UserID: ws.UserID, IncludeDisabled: true})
	must(t, "ListKeys", err)
	if len(keys) != trials {
		t.Errorf("after %d races, %d keys stored, want %d", trials, len(keys), trials)
	}
	t.Logf("%d trials x %d racers in %v", trials, racers, time.Since(start).Round(time.Millisecond))
}

func testDeleteExpiredCodes(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	_, ws := newUser(t, s)
	before := at(time.Hour)
	mk := func(expires time.Time, used *time.Time) *keygate.AuthCode {
		c := codeFor(ws)
		c.ExpiresAt = expires
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c, nil))
		if used != nil {
			must(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, c.Hash, *used, keyFor(ws, *used), nil))
		}
		return c
	}
	tests := []struct {
		name string
		code *keygate.AuthCode
		gone bool
	}{
		{"UnusedExpired", mk(before.Add(-time.Second), nil), true},
		{"UnusedExpiresAtCutoff", mk(before, nil), false},
		{"UnusedValid", mk(before.Add(time.Minute), nil), false},
		{"UsedBeforeCutoff", mk(before.Add(-time.Minute), ptr(before.Add(-2*time.Minute))), true},
		// Kept although expired: it was used after the cut-off, and a
		// replay of it must still be recognised.
		{"UsedAfterCutoff", mk(before.Add(-time.Minute), ptr(before.Add(time.Second))), false},
		{"UsedNotExpired", mk(before.Add(time.Minute), ptr(before.Add(-time.Minute))), true},
	}
	wantN := int64(0)
	for _, tt := range tests {
		if tt.gone {
			wantN++
		}
	}
	n, err := s.DeleteExpiredAuthCodes(ctx, before)
	must(t, "DeleteExpiredAuthCodes", err)
	if n != wantN {
		t.Errorf("DeleteExpiredAuthCodes(%v) = %d, want %d", before, n, wantN)
	}
	for _, tt := range tests {
		_, err := s.AuthCode(ctx, tt.code.Hash)
		if tt.gone {
			wantErr(t, "AuthCode("+tt.name+")", err, keygate.ErrNotFound)
		} else {
			wantErr(t, "AuthCode("+tt.name+")", err, nil)
		}
	}
}
