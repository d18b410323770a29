package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var keyTests = []test{
	{"RoundTrip", testKeyRoundTrip},
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
		wantErr(t, "UpdateKey(unknown)", s.UpdateKey(t.Context(), keyFor(ws, t0)), keygate.ErrNotFound)
	}},
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

func testUpdateKey(t *testing.T, s keygate.Store) {
	_, ws := newUser(t, s)
	other := newWorkspace(t, s, ws.UserID, "other", t0)
	tests := []struct {
		name   string
		before func(k *keygate.APIKey)
		update func(k *keygate.APIKey)
	}{
		{"SetAll", func(*keygate.APIKey) {}, func(k *keygate.APIKey) {
			k.Name, k.Label, k.Disabled = "renamed", "renamed", true
			k.Limit, k.LimitReset, k.IncludeBYOK = ptr(keygate.Micros(5_000_000)), keygate.ResetDaily, true
			k.UpdatedAt = ptr(at(time.Hour))
		}},
		{"ClearLimit", func(k *keygate.APIKey) {
			k.Limit, k.LimitReset, k.IncludeBYOK = ptr(keygate.Micros(7)), keygate.ResetWeekly, true
		}, func(k *keygate.APIKey) {
			k.Limit, k.LimitReset, k.IncludeBYOK = nil, keygate.ResetNone, false
			k.UpdatedAt = ptr(at(time.Hour))
		}},
		{"Enable", func(k *keygate.APIKey) { k.Disabled = true }, func(k *keygate.APIKey) {
			k.Disabled = false
			k.UpdatedAt = ptr(at(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			k := keyFor(ws, t0)
			k.Name = "original"
			k.ExpiresAt = ptr(at(24 * time.Hour))
			tt.before(k)
			must(t, "CreateKey", s.CreateKey(ctx, k))

			want := *k
			tt.update(&want)
			upd := want
			// Fields that UpdateKey does not write.
			upd.UserID, upd.WorkspaceID, upd.ParentHash = newID(), other.ID, "x"
			upd.IsManagement, upd.ExpiresAt, upd.ExternalUser = true, ptr(at(time.Hour)), ptr("x")
			upd.CreatorUserID, upd.CreatedAt, upd.AppID = newID(), at(time.Hour), ptr(int64(99))
			must(t, "UpdateKey", s.UpdateKey(ctx, &upd))

			got, err := s.Key(ctx, k.Hash)
			must(t, "Key", err)
			diff(t, "Key after UpdateKey("+tt.name+")", &want, got)
		})
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
