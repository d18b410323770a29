package keygate_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// charge settles one request of cost on k, created now.
func (f *fixture) charge(k *keygate.APIKey, cost keygate.Micros) {
	f.t.Helper()
	r := f.reserve(k, cost)
	if err := f.svc.Settle(f.ctx, r, &keygate.Generation{Model: "acme/m", Cost: cost, PromptTokens: 1}); err != nil {
		f.t.Fatal(err)
	}
}

func TestCreditsUnlimitedByDefault(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{})
	f.charge(k, 2_500_000)
	c, err := f.svc.Credits(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Granted != nil || c.Used != 2_500_000 || c.Exhausted() {
		t.Errorf("credits = %v granted, %d used, exhausted %v; want none, 2500000, false", c.Granted, c.Used, c.Exhausted())
	}
	if _, err := f.svc.Admit(f.ctx, k); err != nil {
		t.Errorf("Admit without a balance = %v", err)
	}
}

// TestCreditsExhausted: a user whose balance is spent gets 402 from
// Reserve (the gateway) and Admit (/auth/verify), before a key's own
// limit's 403; another user keeps working; a grant restores service at
// once.
func TestCreditsExhausted(t *testing.T) {
	f := newFixture(t)
	other := f.newUser("bob@example.com")
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: new(1.0)})
	_, ko := f.newKey(keygate.NewKeyParams{UserID: other.ID})
	// Spending before the first grant counts against it.
	f.charge(k, 400_000)
	g, err := f.svc.GrantCredits(f.ctx, "ALICE@example.com", "1.5", "  first  ")
	if err != nil {
		t.Fatal(err)
	}
	if g.Amount != 1_500_000 || g.Note != "first" || g.UserID != f.user.ID {
		t.Errorf("grant = %+v", g)
	}
	f.charge(k, 600_000) // 1.0 used: the key's own limit is reached
	if _, err := f.svc.Reserve(f.ctx, k, 1); keygate.ErrorCode(err) != keygate.EFORBIDDEN {
		t.Fatalf("Reserve at the key's limit = %v, want 403", err)
	}
	_, k2 := f.newKey(keygate.NewKeyParams{})
	f.charge(k2, 500_000) // 1.5 used: the balance is spent
	for _, k := range []*keygate.APIKey{k, k2} {
		if _, err := f.svc.Reserve(f.ctx, k, 1); keygate.ErrorCode(err) != keygate.EPAYMENT || keygate.ErrorMessage(err) != keygate.MsgInsufficientCredits {
			t.Errorf("Reserve with the balance spent = %v, want 402 %q", err, keygate.MsgInsufficientCredits)
		}
		if _, err := f.svc.Admit(f.ctx, k); keygate.ErrorCode(err) != keygate.EPAYMENT {
			t.Errorf("Admit with the balance spent = %v, want 402", err)
		}
	}
	if _, err := f.svc.Admit(f.ctx, ko); err != nil {
		t.Errorf("another user's Admit = %v", err)
	}
	f.charge(ko, 1)
	c, err := f.svc.Credits(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *c.Granted != 1_500_000 || c.Used != 1_500_000 {
		t.Errorf("credits = %d granted, %d used; want 1500000, 1500000", *c.Granted, c.Used)
	}
	if _, err := f.svc.GrantCredits(f.ctx, "alice@example.com", "0.000001", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Admit(f.ctx, k2); err != nil {
		t.Errorf("Admit right after a grant = %v", err)
	}
	f.charge(k2, 1)
	if _, err := f.svc.Reserve(f.ctx, k2, 1); keygate.ErrorCode(err) != keygate.EPAYMENT {
		t.Errorf("Reserve with the grant spent = %v, want 402", err)
	}
	gs, err := f.svc.CreditGrants(f.ctx, "alice@example.com")
	if err != nil || len(gs) != 2 {
		t.Fatalf("CreditGrants = %d, %v; want 2", len(gs), err)
	}
}

func TestGrantCreditsInvalid(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct{ email, amount, note, field string }{
		{"alice@example.com", "", "", "amount"},
		{"alice@example.com", "ten", "", "amount"},
		{"alice@example.com", "-1", "", "amount"},
		{"alice@example.com", "0.0000001", "", "amount"},
		{"alice@example.com", "1e10", "", "amount"},
		{"alice@example.com", "NaN", "", "amount"},
		{"alice@example.com", "1", strings.Repeat("n", 201), "note"},
		{"alice@example.com", "1", "bad\x00note", "note"},
	} {
		_, err := f.svc.GrantCredits(f.ctx, tt.email, tt.amount, tt.note)
		if keygate.ErrorCode(err) != keygate.EINVALID || !strings.HasPrefix(keygate.ErrorMessage(err), tt.field) {
			t.Errorf("GrantCredits(%q, %q) = %v, want EINVALID naming %s", tt.amount, tt.note, err, tt.field)
		}
	}
	if _, err := f.svc.GrantCredits(f.ctx, "nobody@example.com", "1", ""); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("GrantCredits(unknown user) = %v, want ENOTFOUND", err)
	}
}

// TestRollupsEqualEvents: requests settled at once from many goroutines
// on both sides of a UTC midnight, then usage reported late through the
// usage API for the day before (some of it twice): the rollups equal the
// sums recomputed from the stored generations.
func TestRollupsEqualEvents(t *testing.T) {
	f := newFixture(t)
	secret, k := f.newKey(keygate.NewKeyParams{})
	apps := []keygate.Attribution{
		{Referer: "https://one.example", Title: "One"},
		{Referer: "https://two.example", Title: "Two"},
	}
	midnight := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var ids []string
	settle := func(n int) {
		appID, err := f.svc.AttributeApp(f.ctx, k, apps[n%2])
		if err != nil {
			t.Error(err)
			return
		}
		r, err := f.svc.Reserve(f.ctx, k, 10)
		if err != nil {
			t.Error(err)
			return
		}
		g := &keygate.Generation{AppID: appID, Model: []string{"m/a", "m/b"}[n%3%2], Provider: "p",
			PromptTokens: int64(n), CompletionTokens: int64(n * 2), ReasoningTokens: 1, Cost: keygate.Micros(n + 1)}
		if err := f.svc.Settle(f.ctx, r, g); err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		ids = append(ids, g.ID)
		mu.Unlock()
	}
	for _, at := range []time.Time{midnight.Add(-time.Second), midnight} {
		f.clock.Set(at)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 25 {
					settle(w*25 + i)
				}
			})
		}
		wg.Wait()
	}
	// Late: the day before midnight, reported after it, each event twice.
	var late []keygate.UsageEvent
	for i := range 30 {
		cost := keygate.Micros(7)
		late = append(late, keygate.UsageEvent{ID: fmt.Sprintf("late-%d", i), Key: secret, Model: "m/late",
			PromptTokens: 3, CompletionTokens: 4, Cost: &cost, App: &apps[i%2],
			CreatedAt: midnight.Add(-time.Duration(i+1) * time.Hour)})
	}
	for range 2 {
		if _, err := f.svc.ReportUsage(f.ctx, late, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range late {
		ids = append(ids, "usage-"+e.ID)
	}
	if len(ids) != 430 {
		t.Fatalf("%d generations, want 430", len(ids))
	}
	wantApp := map[string]keygate.AppDay{}
	wantUser := map[string]keygate.UserDay{}
	for _, id := range ids {
		g, err := f.svc.Generation(f.ctx, f.user.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		a, u := keygate.RollupsOf(g)
		ak := fmt.Sprint(a.AppID, a.Day.Unix(), a.Model)
		s := wantApp[ak]
		if s.Requests == 0 {
			s = keygate.AppDay{AppID: a.AppID, Day: a.Day, Model: a.Model}
		}
		s.Add(a)
		wantApp[ak] = s
		uk := fmt.Sprint(u.Day.Unix(), u.WorkspaceID, u.KeyHash, u.Model, u.Provider)
		su := wantUser[uk]
		if su.Requests == 0 {
			su = *u
		} else {
			su.Add(u)
		}
		wantUser[uk] = su
	}
	from, to := midnight.AddDate(0, 0, -2), midnight.AddDate(0, 0, 1)
	gotApp := map[string]keygate.AppDay{}
	for _, a := range apps {
		id, _ := f.svc.AttributeApp(f.ctx, k, a)
		days, err := f.store.AppDays(f.ctx, *id, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range days {
			gotApp[fmt.Sprint(d.AppID, d.Day.Unix(), d.Model)] = d
		}
	}
	if fmt.Sprint(gotApp) != fmt.Sprint(wantApp) {
		t.Errorf("app rollups:\n got %v\nwant %v", gotApp, wantApp)
	}
	days, err := f.store.UserDays(f.ctx, f.user.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	gotUser := map[string]keygate.UserDay{}
	for _, d := range days {
		gotUser[fmt.Sprint(d.Day.Unix(), d.WorkspaceID, d.KeyHash, d.Model, d.Provider)] = d
	}
	if fmt.Sprint(gotUser) != fmt.Sprint(wantUser) {
		t.Errorf("user rollups:\n got %v\nwant %v", gotUser, wantUser)
	}
	if len(gotUser) < 4 {
		t.Errorf("%d user rollup rows, want rows on both days", len(gotUser))
	}
}
