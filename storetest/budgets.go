package storetest

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var budgetTests = []test{
	{"PutListDelete", testBudgetsPutListDelete},
	{"MissingWorkspace", func(t *testing.T, s keygate.Store) {
		b := &keygate.WorkspaceBudget{ID: newID(), WorkspaceID: newID(), Interval: keygate.ResetDaily, Limit: 1, CreatedAt: t0, UpdatedAt: t0}
		wantErr(t, "PutWorkspaceBudget(no workspace)", s.PutWorkspaceBudget(t.Context(), b, false), keygate.ErrNotFound)
		_, ws := newUser(t, s)
		wantErr(t, "DeleteWorkspaceBudget(none)", s.DeleteWorkspaceBudget(t.Context(), ws.ID, keygate.ResetDaily), keygate.ErrNotFound)
	}},
	{"GoWithWorkspace", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		ws := newWorkspace(t, s, u.ID, "team", t0)
		putBudget(t, s, ws.ID, keygate.ResetMonthly, 500, false, t0)
		_, err := s.DeleteWorkspace(t.Context(), ws.ID)
		must(t, "DeleteWorkspace", err)
		got, err := s.WorkspaceBudgets(t.Context(), ws.ID)
		must(t, "WorkspaceBudgets(deleted workspace)", err)
		diff(t, "WorkspaceBudgets(deleted workspace)", []*keygate.WorkspaceBudget(nil), got)
	}},
	{"Announced", func(t *testing.T, s keygate.Store) {
		l := Listen(t, feedOf(t, s))
		_, ws := newUser(t, s)
		l.Watch(ws.ID)
		putBudget(t, s, ws.ID, keygate.ResetDaily, 10, false, t0)
		l.Want(t, Event{keygate.ChangeBudget, ws.ID})
		must(t, "DeleteWorkspaceBudget", s.DeleteWorkspaceBudget(t.Context(), ws.ID, keygate.ResetDaily))
		l.Want(t, Event{keygate.ChangeBudget, ws.ID})
		wantErr(t, "DeleteWorkspaceBudget(again)", s.DeleteWorkspaceBudget(t.Context(), ws.ID, keygate.ResetDaily), keygate.ErrNotFound)
		l.WantNone(t, 200*time.Millisecond)
	}},
	{"Leases", testBudgetLeases},
}

// testBudgetsPutListDelete: one budget per workspace and interval; a put
// of an existing interval keeps its id and creation time; include_byok
// is the workspace's, written to all its budgets.
func testBudgetsPutListDelete(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, ws := newUser(t, s)
	other := newWorkspace(t, s, u.ID, "other", t0)
	monthly := putBudget(t, s, ws.ID, keygate.ResetMonthly, 500_000_000, false, t0)
	lifetime := putBudget(t, s, ws.ID, keygate.ResetNone, 2_000_000_000, false, at(time.Minute))
	putBudget(t, s, other.ID, keygate.ResetDaily, 1, false, t0)
	wantUTC(t, "PutWorkspaceBudget", &monthly.CreatedAt, &monthly.UpdatedAt)

	again := &keygate.WorkspaceBudget{ID: newID(), WorkspaceID: ws.ID, Interval: keygate.ResetMonthly, Limit: 0,
		IncludeBYOK: true, CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	must(t, "PutWorkspaceBudget(again)", s.PutWorkspaceBudget(ctx, again, true))
	if again.ID != monthly.ID || !again.CreatedAt.Equal(monthly.CreatedAt) {
		t.Errorf("PutWorkspaceBudget(again) = id %s created %v, want the first put's %s %v", again.ID, again.CreatedAt, monthly.ID, monthly.CreatedAt)
	}
	monthly.Limit, monthly.UpdatedAt, monthly.IncludeBYOK = 0, at(time.Hour), true
	lifetime.IncludeBYOK = true
	got, err := s.WorkspaceBudgets(ctx, ws.ID)
	must(t, "WorkspaceBudgets", err)
	diff(t, "WorkspaceBudgets (lifetime first)", []*keygate.WorkspaceBudget{lifetime, monthly}, got)

	weekly := &keygate.WorkspaceBudget{ID: newID(), WorkspaceID: ws.ID, Interval: keygate.ResetWeekly, Limit: 5, CreatedAt: t0, UpdatedAt: t0}
	must(t, "PutWorkspaceBudget(without byok)", s.PutWorkspaceBudget(ctx, weekly, false))
	if !weekly.IncludeBYOK {
		t.Errorf("a budget put without include_byok did not take the workspace's (true)")
	}
	must(t, "DeleteWorkspaceBudget(weekly)", s.DeleteWorkspaceBudget(ctx, ws.ID, keygate.ResetWeekly))
	must(t, "DeleteWorkspaceBudget", s.DeleteWorkspaceBudget(ctx, ws.ID, keygate.ResetNone))
	got, err = s.WorkspaceBudgets(ctx, ws.ID)
	must(t, "WorkspaceBudgets", err)
	diff(t, "WorkspaceBudgets after delete", []*keygate.WorkspaceBudget{monthly}, got)
	got, err = s.WorkspaceBudgets(ctx, other.ID)
	must(t, "WorkspaceBudgets(other)", err)
	if len(got) != 1 || got[0].Limit != 1 || got[0].IncludeBYOK {
		t.Errorf("other workspace's budgets = %+v, want its daily budget of 1 untouched", got)
	}
}

// testBudgetLeases: a workspace budget's stand-in key leases from the
// budget's limit, less the workspace's usage in the window; a changed or
// deleted budget makes the stand-in stale.
func testBudgetLeases(t *testing.T, s keygate.Store) {
	ls, ok := s.(keygate.LeaseStore)
	if !ok {
		t.Skip("the store hands out no leases")
	}
	_, ws := newUser(t, s)
	putBudget(t, s, ws.ID, keygate.ResetMonthly, 1000, false, t0)
	limit := keygate.Micros(1000)
	stand := &keygate.APIKey{Hash: keygate.BudgetCounterHash(ws.ID, keygate.ResetMonthly), Limit: &limit, LimitReset: keygate.ResetMonthly}
	w := keygate.UsageCounter{KeyHash: stand.Hash, Period: keygate.PeriodMonth, Start: keygate.PeriodsAt(t0).Month}
	record(t, s, stand.Hash, []string{stand.Hash}, t0, 300, false)
	l := acquire(t, ls, keygate.LeaseRequest{Key: stand, Window: w, Want: 500, TTL: time.Minute})
	diff(t, "budget lease", keygate.Lease{ID: l.ID, Granted: 500, Amount: 500, Used: 300, Room: 200}, l)

	other := keygate.Micros(999)
	_, err := ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{{Key: &keygate.APIKey{Hash: stand.Hash, Limit: &other, LimitReset: keygate.ResetMonthly}, Window: w, Want: 1, TTL: time.Minute}})
	wantErr(t, "AcquireLeases(other limit)", err, keygate.ErrConflict)
	_, err = ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{{Key: &keygate.APIKey{Hash: stand.Hash, Limit: &limit, LimitReset: keygate.ResetMonthly, IncludeBYOK: true}, Window: w, Want: 1, TTL: time.Minute}})
	wantErr(t, "AcquireLeases(other byok)", err, keygate.ErrConflict)
	must(t, "DeleteWorkspaceBudget", s.DeleteWorkspaceBudget(t.Context(), ws.ID, keygate.ResetMonthly))
	_, err = ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{{Key: stand, Window: w, Want: 1, TTL: time.Minute}})
	wantErr(t, "AcquireLeases(deleted budget)", err, keygate.ErrNotFound)
}

func putBudget(t *testing.T, s keygate.Store, wsID string, iv keygate.LimitReset, limit keygate.Micros, byok bool, when time.Time) *keygate.WorkspaceBudget {
	t.Helper()
	b := &keygate.WorkspaceBudget{ID: newID(), WorkspaceID: wsID, Interval: iv, Limit: limit, IncludeBYOK: byok, CreatedAt: when, UpdatedAt: when}
	must(t, "PutWorkspaceBudget", s.PutWorkspaceBudget(t.Context(), b, true))
	return b
}
