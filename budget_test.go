package keygate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// spend reserves want for k on svc and settles cost, failing the test on
// an error.
func spend(t *testing.T, svc *keygate.Service, k *keygate.APIKey, want, cost keygate.Micros) {
	t.Helper()
	r, err := svc.Reserve(t.Context(), k, want)
	if err != nil {
		t.Fatalf("Reserve(%s): %v", k.Name, err)
	}
	if err := svc.Settle(t.Context(), r, &keygate.Generation{Model: "t/m", Cost: cost}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
}

// wantRefused fails unless err is a 403 with message msg.
func wantRefused(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if keygate.ErrorCode(err) != keygate.EFORBIDDEN || keygate.ErrorMessage(err) != msg {
		t.Errorf("%s = %v, want 403 %q", what, err, msg)
	}
}

// TestWorkspaceBudgetSharedByKeys: two keys without limits of their own
// spend a daily workspace budget together; past it both are refused by
// Reserve and Admit with a message naming the budget, a key of another
// workspace is not, and the next UTC day admits them again.
func TestWorkspaceBudgetSharedByKeys(t *testing.T) {
	f := newFixture(t)
	ws, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Team A"})
	if err != nil {
		t.Fatal(err)
	}
	_, a := f.newKey(keygate.NewKeyParams{Name: "a", WorkspaceID: &ws.ID})
	_, b := f.newKey(keygate.NewKeyParams{Name: "b", WorkspaceID: &ws.ID})
	_, outside := f.newKey(keygate.NewKeyParams{Name: "outside"})
	if _, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "team-a", "daily", 0.001, nil); err != nil {
		t.Fatal(err)
	}
	spend(t, f.svc, a, 600, 600)
	if adm, err := f.svc.Admit(f.ctx, b); err != nil || adm.Remaining == nil || *adm.Remaining != 400 {
		t.Fatalf("Admit(b) = %+v, %v; want remaining 400", adm, err)
	}
	spend(t, f.svc, b, 400, 400)
	msg := "Workspace budget exceeded (daily budget of workspace " + ws.ID + ")"
	for _, k := range []*keygate.APIKey{a, b} {
		_, err := f.svc.Reserve(f.ctx, k, 1)
		wantRefused(t, "Reserve("+k.Name+")", err, msg)
		_, err = f.svc.Admit(f.ctx, k)
		wantRefused(t, "Admit("+k.Name+")", err, msg)
	}
	spend(t, f.svc, outside, 1000, 1000)

	// 23:59:59.999 is still the same day; 00:00 UTC starts the next.
	day := keygate.PeriodsAt(f.clock.Now()).Day
	f.clock.Set(day.Add(24*time.Hour - time.Millisecond))
	_, err = f.svc.Reserve(f.ctx, a, 1)
	wantRefused(t, "Reserve(a) at 23:59:59.999", err, msg)
	f.clock.Set(day.Add(24 * time.Hour))
	spend(t, f.svc, a, 1000, 1000)
	_, err = f.svc.Admit(f.ctx, b)
	wantRefused(t, "Admit(b) after the next day's budget was spent", err, msg)
}

// TestWorkspaceBudgetCountsEarlierSpending: a budget set after the keys
// spent counts what they spent in its window; deleting it lifts it; a key's
// own limit keeps its own message.
func TestWorkspaceBudgetCountsEarlierSpending(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{LimitUSD: limitUSD(10_000), LimitReset: "monthly"})
	spend(t, f.svc, k, 700, 700)
	ws, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "default", "monthly", 0.0007, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := "Workspace budget exceeded (monthly budget of workspace " + ws.WorkspaceID + ")"
	_, err = f.svc.Reserve(f.ctx, k, 1)
	wantRefused(t, "Reserve", err, msg)
	// Raised: admitted again, up to the new budget.
	if _, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "default", "monthly", 0.0008, nil); err != nil {
		t.Fatal(err)
	}
	spend(t, f.svc, k, 100, 100)
	_, err = f.svc.Reserve(f.ctx, k, 1)
	wantRefused(t, "Reserve after the raised budget was spent", err, msg)
	if err := f.svc.DeleteWorkspaceBudget(f.ctx, f.user.ID, ws.WorkspaceID, "monthly"); err != nil {
		t.Fatal(err)
	}
	spend(t, f.svc, k, 9_200, 9_200)
	_, err = f.svc.Reserve(f.ctx, k, 1)
	wantRefused(t, "Reserve past the key's own limit", err, "Key limit exceeded (monthly limit)")
	// A lifetime budget of 0 refuses everything.
	if _, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "default", "lifetime", 0, nil); err != nil {
		t.Fatal(err)
	}
	_, k2 := f.newKey(keygate.NewKeyParams{Name: "fresh"})
	_, err = f.svc.Reserve(f.ctx, k2, 1)
	wantRefused(t, "Reserve under a lifetime budget of 0", err, "Workspace budget exceeded (lifetime budget of workspace "+ws.WorkspaceID+")")
}

// TestWorkspaceBudgetRequests: the rules of the budget calls.
func TestWorkspaceBudgetRequests(t *testing.T) {
	f := newFixture(t)
	mallory := f.newUser("mallory@example.com")
	ws, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Team"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		user, ref, iv string
		usd           float64
		code          string
		msg           string
	}{
		{"daily-by-slug", f.user.ID, "team", "daily", 5, "", ""},
		{"lifetime-by-id", f.user.ID, ws.ID, "lifetime", 100, "", ""},
		{"upper-case-id", f.user.ID, fmt.Sprintf("%X", ws.ID), "weekly", 1, keygate.ENOTFOUND, "Workspace not found"},
		{"bad-interval", f.user.ID, "team", "Daily", 5, keygate.EINVALID, "interval must be one of daily, weekly, monthly, lifetime"},
		{"total-is-not-an-interval", f.user.ID, "team", "total", 5, keygate.EINVALID, "interval must be one of daily, weekly, monthly, lifetime"},
		{"negative", f.user.ID, "team", "daily", -1, keygate.EINVALID, "limit_usd must be a number >= 0"},
		{"too-fine", f.user.ID, "team", "daily", 0.0000001, keygate.EINVALID, ""},
		{"another-users-workspace", mallory.ID, ws.ID, "daily", 5, keygate.ENOTFOUND, "Workspace not found"},
		{"another-users-slug", mallory.ID, "team", "daily", 5, keygate.ENOTFOUND, "Workspace not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := f.svc.SetWorkspaceBudget(f.ctx, tt.user, tt.ref, tt.iv, tt.usd, nil)
			if keygate.ErrorCode(err) != tt.code && !(tt.code == "" && err == nil) {
				t.Fatalf("SetWorkspaceBudget(%q, %q, %v) = %v, want code %q", tt.ref, tt.iv, tt.usd, err, tt.code)
			}
			if tt.msg != "" && keygate.ErrorMessage(err) != tt.msg {
				t.Errorf("message %q, want %q", keygate.ErrorMessage(err), tt.msg)
			}
			if err == nil && (b.WorkspaceID != ws.ID || b.Limit != keygate.Micros(tt.usd*1e6)) {
				t.Errorf("budget %+v", b)
			}
		})
	}
	list, byok, err := f.svc.WorkspaceBudgets(f.ctx, f.user.ID, "team")
	if err != nil || len(list) != 2 || list[0].Interval != keygate.ResetNone || list[1].Interval != keygate.ResetDaily || byok {
		t.Fatalf("WorkspaceBudgets = %+v, %t, %v; want lifetime then daily, byok false", list, byok, err)
	}
	on := true
	if _, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "team", "monthly", 1, &on); err != nil {
		t.Fatal(err)
	}
	list, byok, _ = f.svc.WorkspaceBudgets(f.ctx, f.user.ID, "team")
	if !byok || len(list) != 3 || !list[0].IncludeBYOK {
		t.Errorf("include_byok_in_budgets after setting it = %t on %+v, want true on all", byok, list[0])
	}
	if _, err := f.svc.WorkspaceBudget(f.ctx, mallory.ID, ws.ID, "daily"); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("WorkspaceBudget(another user's) = %v, want ENOTFOUND", err)
	}
	if err := f.svc.DeleteWorkspaceBudget(f.ctx, mallory.ID, ws.ID, "daily"); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("DeleteWorkspaceBudget(another user's) = %v, want ENOTFOUND", err)
	}
	if err := f.svc.DeleteWorkspaceBudget(f.ctx, f.user.ID, "team", "daily"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.WorkspaceBudget(f.ctx, f.user.ID, "team", "daily")
	if keygate.ErrorCode(err) != keygate.ENOTFOUND || keygate.ErrorMessage(err) != "Budget not found" {
		t.Errorf("WorkspaceBudget(deleted) = %v, want 404 Budget not found", err)
	}
	if err := f.svc.DeleteWorkspaceBudget(f.ctx, f.user.ID, "team", "daily"); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("DeleteWorkspaceBudget(again) = %v, want ENOTFOUND", err)
	}
}

// TestWorkspaceBudgetRaceSQLite: 64 concurrent requests of two keys
// against a workspace budget with room for 10 spend it to the
// micro-dollar.
func TestWorkspaceBudgetRaceSQLite(t *testing.T) {
	f := newFixture(t)
	_, a := f.newKey(keygate.NewKeyParams{Name: "a"})
	_, b := f.newKey(keygate.NewKeyParams{Name: "b"})
	budget, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "default", "weekly", 0.001, nil)
	if err != nil {
		t.Fatal(err)
	}
	admittedA, refusedA := raceUntilDone(t, []*keygate.Service{f.svc}, a, 100, 100)
	admittedB, refusedB := raceUntilDone(t, []*keygate.Service{f.svc}, b, 100, 100)
	if admittedA+admittedB != 10 || admittedB != 0 {
		t.Errorf("admitted %d + %d, want 10 + 0", admittedA, admittedB)
	}
	msg := "Workspace budget exceeded (weekly budget of workspace " + budget.WorkspaceID + ")"
	if refusedA[msg] == 0 || refusedB[msg] != 64 {
		t.Errorf("refusals %v, %v; want only %q", refusedA, refusedB, msg)
	}
	adm, err := f.svc.Admit(f.ctx, a)
	wantRefused(t, "Admit", err, msg)
	if adm != nil {
		t.Errorf("Admit admitted %+v", adm)
	}
}
