package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var keyTests = []test{
	{"RoundTrip", testKeyRoundTrip},
	{"WithUsage", testKeyWithUsage},
	{"Conflict", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		dup := keyFor(ws, t0)
		dup.Hash = k.Hash
		wantErr(t, "CreateKey(same hash)", s.CreateKey(t.Context(), dup), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		newKey(t, s, ws, t0)
		_, err := s.Key(t.Context(), keygate.HashSecret("unknown"))
		wantErr(t, "Key(unknown)", err, keygate.ErrNotFound)
	}},
	{"UnknownWorkspace", func(t *testing.T, s keygate.Store) {
		// A key must belong to a stored workspace; the missing row it
		// points at is reported as not found.
		_, ws := newUser(t, s)
		k := keyFor(ws, t0)
		k.WorkspaceID = newID()
		wantErr(t, "CreateKey(unknown workspace)", s.CreateKey(t.Context(), k), keygate.ErrNotFound)
	}},
	{"Update", testUpdateKey},
	{"UpdateMissing", func(t *testing.T, s keygate.Store) {
		_, ws := newUser(t, s)
		newKey(t, s, ws, t0)
		_, _, err := s.UpdateKey(t.Context(), keygate.HashSecret("unknown"), keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: at(time.Hour)})
		wantErr(t, "UpdateKey(unknown)", err, keygate.ErrNotFound)
	}},
	{"UpdateConcurrentFields", testUpdateKeyConcurrentFields},
	{"UpdateConcurrentDisable", testUpdateKeyConcurrentDisable},
	{"Delete", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		keep := newKey(t, s, ws, t0)
		must(t, "DeleteKey", s.DeleteKey(ctx, k.Hash))
		_, err := s.Key(ctx, k.Hash)
		wantErr(t, "Key(deleted)", err, keygate.ErrNotFound)
		wantErr(t, "DeleteKey(again)", s.DeleteKey(ctx, k.Hash), keygate.ErrNotFound)
		_, err = s.Key(ctx, keep.Hash)
		wantErr(t, "Key(other)", err, nil)
	}},
	{"List", testListKeys},
}

func testKeyRoundTrip(t *testing.T, s keygate.Store) {
	u, ws := newUser(t, s)
	app := newApp(t, s, "https://chat.example.com")
	parent := newKey(t, s, ws, t0)
	full := keyFor(ws, at(time.Minute))
	full.AppID = ptr(app.ID)
	full.ParentHash = parent.Hash
	full.Name = "Chat on my laptop"
	full.Label = full.Name
	full.IsManagement = true
	full.Disabled = true
	full.Limit = ptr(keygate.Micros(1_000_000_000_000_000)) // MaxLimitUSD
	full.LimitReset = keygate.ResetMonthly
	full.IncludeBYOK = true
	full.ExpiresAt = ptr(at(90 * 24 * time.Hour))
	full.ExternalUser = ptr("customer-42")
	full.CreatorUserID = u.ID
	full.UpdatedAt = ptr(at(2 * time.Minute))

	zero := keyFor(ws, t0)
	zero.Limit = ptr(keygate.Micros(0))
	zero.ExternalUser = ptr("")

	tests := []struct {
		name string
		key  *keygate.APIKey
	}{
		{"Minimal", keyFor(ws, t0)},
		{"Full", full},
		{"ZeroLimitEmptyExternalUser", zero},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, "CreateKey", s.CreateKey(t.Context(), tt.key))
			got, err := s.Key(t.Context(), tt.key.Hash)
			must(t, "Key", err)
			diff(t, "Key", tt.key, got)
			wantUTC(t, "Key", &got.CreatedAt, got.UpdatedAt, got.ExpiresAt)
		})
	}
}

// testUpdateKey applies one patch to a fresh key per row: the fields the
// patch sets change, no other field does, and updated_at moves only when a
// value changes.
func testUpdateKey(t *testing.T, s keygate.Store) {
	_, ws := newUser(t, s)
	later := at(time.Hour)
	tests := []struct {
		name   string
		before func(k *keygate.APIKey)
		patch  keygate.KeyPatch
		want   func(k *keygate.APIKey) // the key after the patch; nil: unchanged
	}{
		{"SetAll", func(*keygate.APIKey) {}, keygate.KeyPatch{
			Name: ptr("renamed"), Label: ptr("renamed label"), Disabled: ptr(true),
			SetLimit: true, Limit: ptr(keygate.Micros(5_000_000)), LimitReset: ptr(keygate.ResetDaily),
			IncludeBYOK: ptr(true), UpdatedAt: later,
		}, func(k *keygate.APIKey) {
			k.Name, k.Label, k.Disabled = "renamed", "renamed label", true
			k.Limit, k.LimitReset, k.IncludeBYOK = ptr(keygate.Micros(5_000_000)), keygate.ResetDaily, true
			k.UpdatedAt = &later
		}},
		{"NameOnly", func(k *keygate.APIKey) {
			k.Disabled, k.Limit, k.LimitReset, k.IncludeBYOK = true, ptr(keygate.Micros(7)), keygate.ResetWeekly, true
		}, keygate.KeyPatch{Name: ptr("renamed"), Label: ptr("renamed"), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.Name, k.Label, k.UpdatedAt = "renamed", "renamed", &later
		}},
		{"ClearLimit", func(k *keygate.APIKey) {
			k.Limit, k.LimitReset, k.IncludeBYOK = ptr(keygate.Micros(7)), keygate.ResetWeekly, true
		}, keygate.KeyPatch{SetLimit: true, LimitReset: ptr(keygate.ResetNone), IncludeBYOK: ptr(false), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.Limit, k.LimitReset, k.IncludeBYOK, k.UpdatedAt = nil, keygate.ResetNone, false, &later
		}},
		{"ZeroLimit", func(k *keygate.APIKey) {}, keygate.KeyPatch{SetLimit: true, Limit: ptr(keygate.Micros(0)), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.Limit, k.UpdatedAt = ptr(keygate.Micros(0)), &later
		}},
		{"LimitAbsentKept", func(k *keygate.APIKey) { k.Limit = ptr(keygate.Micros(7)) }, keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.Disabled, k.UpdatedAt = true, &later
		}},
		{"Enable", func(k *keygate.APIKey) { k.Disabled = true }, keygate.KeyPatch{Disabled: ptr(false), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.Disabled, k.UpdatedAt = false, &later
		}},
		{"SameValues", func(k *keygate.APIKey) {
			k.Limit, k.LimitReset, k.UpdatedAt = ptr(keygate.Micros(7)), keygate.ResetDaily, ptr(at(time.Minute))
		}, keygate.KeyPatch{
			Name: ptr("original"), Label: ptr("original"), Disabled: ptr(false),
			SetLimit: true, Limit: ptr(keygate.Micros(7)), LimitReset: ptr(keygate.ResetDaily),
			IncludeBYOK: ptr(false), UpdatedAt: later,
		}, nil},
		{"SameNoLimit", func(*keygate.APIKey) {}, keygate.KeyPatch{SetLimit: true, UpdatedAt: later}, nil},
		{"ShortenExpiry", func(*keygate.APIKey) {}, keygate.KeyPatch{ExpiresAt: ptr(at(2 * time.Hour)), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.ExpiresAt, k.UpdatedAt = ptr(at(2*time.Hour)), &later
		}},
		// An expiry is never moved later, nor to where it is.
		{"ExpiryNotExtended", func(*keygate.APIKey) {}, keygate.KeyPatch{ExpiresAt: ptr(at(48 * time.Hour)), UpdatedAt: later}, nil},
		{"ExpirySame", func(*keygate.APIKey) {}, keygate.KeyPatch{ExpiresAt: ptr(at(24 * time.Hour)), UpdatedAt: later}, nil},
		{"ExpiryOnKeyWithout", func(k *keygate.APIKey) { k.ExpiresAt = nil }, keygate.KeyPatch{ExpiresAt: ptr(at(48 * time.Hour)), UpdatedAt: later}, func(k *keygate.APIKey) {
			k.ExpiresAt, k.UpdatedAt = ptr(at(48*time.Hour)), &later
		}},
		{"Empty", func(*keygate.APIKey) {}, keygate.KeyPatch{UpdatedAt: later}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			k := keyFor(ws, t0)
			k.Name, k.Label = "original", "original"
			k.ExpiresAt = ptr(at(24 * time.Hour))
			k.ExternalUser = ptr("customer-42")
			tt.before(k)
			must(t, "CreateKey", s.CreateKey(ctx, k))
			want := *k
			if tt.want != nil {
				tt.want(&want)
			}

			before, after, err := s.UpdateKey(ctx, k.Hash, tt.patch)
			must(t, "UpdateKey", err)
			diff(t, "UpdateKey("+tt.name+") before", k, before)
			diff(t, "UpdateKey("+tt.name+") after", &want, after)
			wantUTC(t, "UpdateKey", &after.CreatedAt, after.UpdatedAt, before.UpdatedAt)
			got, err := s.Key(ctx, k.Hash)
			must(t, "Key", err)
			diff(t, "Key after UpdateKey("+tt.name+")", &want, got)
		})
	}
}

// testUpdateKeyConcurrentFields patches two fields of one key from two
// goroutines at once, many times. No patch may undo another's: each
// goroutine sees the other's field only move forward, and at the end the
// key holds both goroutines' last values.
func testUpdateKeyConcurrentFields(t *testing.T, s keygate.Store) {
	const rounds = 100
	ctx := t.Context()
	_, ws := newUser(t, s)
	k := newKey(t, s, ws, t0)
	name := func(i int) string { return fmt.Sprintf("name-%03d", i) }
	var wg sync.WaitGroup
	wg.Go(func() { // the limit, 1 to rounds micro-dollars
		seen := ""
		for i := 1; i <= rounds; i++ {
			_, after, err := s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{SetLimit: true, Limit: ptr(keygate.Micros(i)), UpdatedAt: at(time.Hour)})
			if err != nil {
				t.Errorf("UpdateKey(limit %d) = %v", i, err)
				return
			}
			if after.Limit == nil || *after.Limit != keygate.Micros(i) || after.Name < seen {
				t.Errorf("UpdateKey(limit %d) left limit %v, name %q after name %q: an update was lost", i, limitOf(after), after.Name, seen)
				return
			}
			seen = after.Name
		}
	})
	wg.Go(func() { // the name and label, name-001 to name-<rounds>
		var seen keygate.Micros
		for i := 1; i <= rounds; i++ {
			_, after, err := s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Name: ptr(name(i)), Label: ptr(name(i)), UpdatedAt: at(time.Hour)})
			if err != nil {
				t.Errorf("UpdateKey(name %d) = %v", i, err)
				return
			}
			var limit keygate.Micros
			if after.Limit != nil {
				limit = *after.Limit
			}
			if after.Name != name(i) || after.Label != name(i) || limit < seen {
				t.Errorf("UpdateKey(name %d) left name %q, label %q, limit %d after limit %d: an update was lost", i, after.Name, after.Label, limit, seen)
				return
			}
			seen = limit
		}
	})
	wg.Wait()
	got, err := s.Key(ctx, k.Hash)
	must(t, "Key", err)
	if got.Name != name(rounds) || got.Label != name(rounds) || got.Limit == nil || *got.Limit != rounds {
		t.Errorf("after both goroutines: name %q, label %q, limit %v; want %q and %d", got.Name, got.Label, limitOf(got), name(rounds), rounds)
	}
}

// limitOf returns k's limit for a message: its value, or "none".
func limitOf(k *keygate.APIKey) any {
	if k.Limit == nil {
		return "none"
	}
	return *k.Limit
}

// testUpdateKeyConcurrentDisable disables one key from 8 goroutines at
// once, 20 times: exactly one of them sees the key enabled before its
// update, so exactly one caller reports (and audits) the change.
func testUpdateKeyConcurrentDisable(t *testing.T, s keygate.Store) {
	const racers, trials = 8, 20
	ctx := t.Context()
	_, ws := newUser(t, s)
	for trial := range trials {
		k := newKey(t, s, ws, t0)
		befores := make([]*keygate.APIKey, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				befores[i], _, errs[i] = s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: at(time.Hour)})
			})
		}
		wg.Wait()
		changed := 0
		for i := range racers {
			must(t, fmt.Sprintf("trial %d: UpdateKey #%d", trial, i), errs[i])
			if !befores[i].Disabled {
				changed++
			}
		}
		if changed != 1 {
			t.Fatalf("trial %d: %d of %d concurrent disables saw the key enabled, want exactly 1", trial, changed, racers)
		}
	}
}

func testListKeys(t *testing.T, s keygate.Store) {
	u, def := newUser(t, s)
	second := newWorkspace(t, s, u.ID, "second", t0)
	// k[i] is created i minutes after t0; k[2] is disabled, k[4] lives in
	// the second workspace.
	var k []*keygate.APIKey
	for i := range 6 {
		ws := def
		if i == 4 {
			ws = second
		}
		key := keyFor(ws, at(time.Duration(i)*time.Minute))
		key.Disabled = i == 2
		must(t, "CreateKey", s.CreateKey(t.Context(), key))
		k = append(k, key)
	}
	otherUser, otherWS := newUser(t, s)
	newKey(t, s, otherWS, at(time.Hour))

	tests := []struct {
		name string
		f    keygate.KeyFilter
		want []*keygate.APIKey
	}{
		{"Enabled", keygate.KeyFilter{UserID: u.ID}, []*keygate.APIKey{k[5], k[4], k[3], k[1], k[0]}},
		{"IncludeDisabled", keygate.KeyFilter{UserID: u.ID, IncludeDisabled: true}, []*keygate.APIKey{k[5], k[4], k[3], k[2], k[1], k[0]}},
		{"DefaultWorkspace", keygate.KeyFilter{UserID: u.ID, WorkspaceID: def.ID}, []*keygate.APIKey{k[5], k[3], k[1], k[0]}},
		{"SecondWorkspace", keygate.KeyFilter{UserID: u.ID, WorkspaceID: second.ID}, []*keygate.APIKey{k[4]}},
		{"FirstPage", keygate.KeyFilter{UserID: u.ID, Limit: 2}, []*keygate.APIKey{k[5], k[4]}},
		{"SecondPage", keygate.KeyFilter{UserID: u.ID, Offset: 2, Limit: 2}, []*keygate.APIKey{k[3], k[1]}},
		{"PageWithDisabled", keygate.KeyFilter{UserID: u.ID, IncludeDisabled: true, Offset: 2, Limit: 2}, []*keygate.APIKey{k[3], k[2]}},
		{"PastEnd", keygate.KeyFilter{UserID: u.ID, Offset: 10, Limit: 2}, nil},
		{"OtherUsersWorkspace", keygate.KeyFilter{UserID: u.ID, WorkspaceID: otherWS.ID}, nil},
		{"UnknownUser", keygate.KeyFilter{UserID: newID()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListKeys(t.Context(), tt.f)
			must(t, "ListKeys", err)
			diff(t, fmt.Sprintf("ListKeys(%+v)", tt.f), tt.want, got)
		})
	}
	got, err := s.ListKeys(t.Context(), keygate.KeyFilter{UserID: otherUser.ID})
	must(t, "ListKeys(other user)", err)
	if len(got) != 1 {
		t.Errorf("ListKeys(other user) = %d keys, want 1", len(got))
	}
}
