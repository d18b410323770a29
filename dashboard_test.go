package keygate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// appKey stores a key of the fixture's user minted for the app at url, as
// a code exchange stores it.
func (f *fixture) appKey(url string) *keygate.APIKey {
	f.t.Helper()
	app, err := f.store.UpsertApp(f.ctx, &keygate.App{URL: url, Title: "Chat", CreatedAt: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	ws, _, err := f.svc.ListWorkspaces(f.ctx, f.user.ID, 0, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	limit := keygate.Micros(1_000)
	k := &keygate.APIKey{Hash: keygate.HashSecret(keygate.NewKey("sk-kg-")), UserID: f.user.ID, WorkspaceID: ws[0].ID,
		AppID: &app.ID, Name: "Chat", Label: "Chat", Limit: &limit, CreatedAt: f.clock.Now()}
	if err := f.store.CreateKey(f.ctx, k); err != nil {
		f.t.Fatal(err)
	}
	return k
}

// spend charges cost to k now.
func (f *fixture) spend(k *keygate.APIKey, id string, cost keygate.Micros) {
	f.t.Helper()
	r := f.reserve(k, 0)
	if err := f.svc.Settle(f.ctx, r, &keygate.Generation{ID: id, Model: "t/cheap", PromptTokens: 7, CompletionTokens: 9, Cost: cost}); err != nil {
		f.t.Fatal(err)
	}
}

func TestKeyActivity(t *testing.T) {
	f := newFixture(t)
	k := f.appKey("https://chat.example")
	f.clock.advance(-3 * 24 * time.Hour)
	f.spend(k, "gen-old", 100)
	f.clock.advance(3 * 24 * time.Hour)
	f.spend(k, "gen-new", 35)

	a, err := f.svc.KeyActivity(f.ctx, f.user.ID, k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Days) != keygate.ChartDays {
		t.Fatalf("KeyActivity: %d days, want %d", len(a.Days), keygate.ChartDays)
	}
	today := keygate.PeriodsAt(f.clock.Now()).Day
	for i, d := range a.Days {
		want := keygate.Micros(0)
		switch i {
		case keygate.ChartDays - 1:
			want = 35
		case keygate.ChartDays - 4:
			want = 100
		}
		if d.Micros != want || !d.Day.Equal(today.AddDate(0, 0, i-keygate.ChartDays+1)) {
			t.Errorf("Days[%d] = %v %d µ$, want %v %d µ$", i, d.Day, d.Micros, today.AddDate(0, 0, i-keygate.ChartDays+1), want)
		}
	}
	if len(a.Generations) != 2 || a.Generations[0].ID != "gen-new" || a.Generations[1].ID != "gen-old" || a.Generations[0].Cost != 35 {
		t.Errorf("Generations = %v, want gen-new (35 µ$) then gen-old", a.Generations)
	}
	if a.LastUsedAt == nil || !a.LastUsedAt.Equal(f.clock.Now()) {
		t.Errorf("LastUsedAt = %v, want %v", a.LastUsedAt, f.clock.Now())
	}
	if a.Usage.Total != 135 || a.Status != keygate.KeyActive || a.App == nil || a.App.URL != "https://chat.example" {
		t.Errorf("KeyActivity = total %d, status %q, app %v; want 135, active, https://chat.example", a.Usage.Total, a.Status, a.App)
	}

	bob := f.newUser("bob@example.com")
	if _, err := f.svc.KeyActivity(f.ctx, bob.ID, k.Hash); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("KeyActivity(another user's key) = %v, want ENOTFOUND", err)
	}
}

func TestOverviewAndRevokeAppKeys(t *testing.T) {
	f := newFixture(t)
	k1 := f.appKey("https://chat.example")
	f.clock.advance(time.Hour)
	k2 := f.appKey("https://chat.example")
	other := f.appKey("https://other.example")
	f.newKey(keygate.NewKeyParams{Name: "direct"})
	f.spend(k1, "gen-1", 40)
	f.spend(k2, "gen-2", 2)
	f.spend(other, "gen-3", 5)

	o, err := f.svc.Overview(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Keys) != 4 || o.MonthSpend != 47 || len(o.Apps) != 2 {
		t.Fatalf("Overview = %d keys, %d µ$ this month, %d apps; want 4, 47, 2", len(o.Keys), o.MonthSpend, len(o.Apps))
	}
	var chat *keygate.AppOverview
	for _, a := range o.Apps {
		if a.App.URL == "https://chat.example" {
			chat = a
		}
	}
	if chat == nil || chat.Keys != 2 || chat.LiveKeys != 2 || chat.Spend != 42 ||
		!chat.FirstAuthorized.Equal(k1.CreatedAt) || !chat.LastAuthorized.Equal(k2.CreatedAt) {
		t.Fatalf("chat app = %+v, want 2 keys, 2 live, 42 µ$, first %v, last %v", chat, k1.CreatedAt, k2.CreatedAt)
	}

	bob := f.newUser("bob@example.com")
	if _, err := f.svc.RevokeAppKeys(f.ctx, bob.ID, *k1.AppID); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("RevokeAppKeys(bob, alice's app) = %v, want ENOTFOUND", err)
	}
	n, err := f.svc.RevokeAppKeys(f.ctx, f.user.ID, *k1.AppID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeAppKeys = %d, %v; want 2", n, err)
	}
	for _, k := range []*keygate.APIKey{k1, k2} {
		got, err := f.store.Key(f.ctx, k.Hash)
		if err != nil || !got.Disabled {
			t.Errorf("key of the revoked app: disabled = %v, %v; want true", got != nil && got.Disabled, err)
		}
	}
	if got, _ := f.store.Key(f.ctx, other.Hash); got.Disabled {
		t.Error("the other app's key was disabled")
	}
	apps, err := f.svc.UserApps(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.App.ID == *k1.AppID && (a.LiveKeys != 0 || a.Keys != 2) {
			t.Errorf("after revoking: %d live of %d keys, want 0 of 2", a.LiveKeys, a.Keys)
		}
	}
	if n, err := f.svc.RevokeAppKeys(f.ctx, f.user.ID, *k1.AppID); err != nil || n != 0 {
		t.Errorf("RevokeAppKeys again = %d, %v; want 0, nil", n, err)
	}
}

func (c *testClock) advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func TestUpdateKeyExpiryOnlyEarlier(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	in := func(d time.Duration) *string { s := now.Add(d).Format(time.RFC3339); return &s }
	_, k := f.newKey(keygate.NewKeyParams{ExpiresAt: in(48 * time.Hour)})
	for _, tt := range []struct {
		name string
		at   *string
		msg  string
	}{
		{"later", in(72 * time.Hour), "expires_at can only be moved earlier"},
		{"past", in(-time.Hour), "expires_at must be in the future"},
		{"not-a-date", ptrTo("2026-13-01"), "expires_at must be an RFC 3339 date-time"},
	} {
		_, err := f.svc.UpdateKey(f.ctx, f.user.ID, k.Hash, keygate.KeyUpdate{ExpiresAt: tt.at})
		if keygate.ErrorCode(err) != keygate.EINVALID || !strings.HasPrefix(keygate.ErrorMessage(err), tt.msg) {
			t.Errorf("UpdateKey(expires_at %s) = %v, want EINVALID %q", tt.name, err, tt.msg)
		}
	}
	info, err := f.svc.UpdateKey(f.ctx, f.user.ID, k.Hash, keygate.KeyUpdate{ExpiresAt: in(time.Hour)})
	if err != nil || info.Key.ExpiresAt == nil || !info.Key.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("UpdateKey(expires_at in 1h) = %v, %v; want the expiry at %v", info, err, now.Add(time.Hour))
	}
	f.clock.advance(time.Hour)
	got, _ := f.store.Key(f.ctx, k.Hash)
	if !got.Expired(f.clock.Now()) {
		t.Error("the key has not expired at its shortened expiry")
	}
}

func ptrTo[T any](v T) *T { return &v }
