package keygate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestWorkspaceBudgetReplicas: on three PostgreSQL replicas, the keys of
// one workspace racing for a budget with room for 10 spend it to the
// limit at most (the budget's leases never grant together more than its
// room); a budget set on one replica refuses on another within a second,
// and its removal admits there as fast.
func TestWorkspaceBudgetReplicas(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	listen(t, svcs, dbs)
	u, err := svcs[0].CreateUser(t.Context(), fmt.Sprintf("team%d@example.com", time.Now().UnixNano()), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	var keys []*keygate.APIKey
	for i := range 2 {
		_, k, err := svcs[0].CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: fmt.Sprintf("k%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	// Before any budget: every replica has cached "no budget".
	for _, svc := range svcs {
		spend(t, svc, keys[0], 1, 0)
	}
	b, err := svcs[0].SetWorkspaceBudget(t.Context(), u.ID, "default", "monthly", 0.001, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := "Workspace budget exceeded (monthly budget of workspace " + b.WorkspaceID + ")"
	// Every replica cached "no budget": the race starts once each has
	// heard of the change.
	seen(t, svcs, keys[1])
	admitted := 0
	for _, k := range keys {
		n, refused := raceUntilDone(t, svcs, k, 100, 100)
		admitted += n
		for m := range refused {
			if m != msg {
				t.Errorf("refused with %q, want %q", m, msg)
			}
		}
	}
	info, err := svcs[2].KeyInfo(t.Context(), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	info1, err := svcs[2].KeyInfo(t.Context(), keys[1])
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the budget, or less by the room that other replicas' idle
	// leases keep for up to the lease's life (docs/spending.md; a lease
	// asked for many waiting requests at once holds room for all of
	// them): never more, and every admitted request charged.
	spent := info.Usage.Monthly + info1.Usage.Monthly
	if spent != keygate.Micros(admitted)*100 || spent > 1000 || admitted == 0 {
		t.Errorf("admitted %d, spent %d µ$; want 1 to 10 admitted, all charged, at most 1000", admitted, spent)
	}
	t.Logf("admitted %d, spent %d µ$ of a budget of 1000", admitted, spent)

	// Removed on replica 0: replica 2 admits within a second.
	if err := svcs[0].DeleteWorkspaceBudget(t.Context(), u.ID, "default", "monthly"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, time.Second, "Reserve on replica 2 after the budget was removed", func() error {
		r, err := svcs[2].Reserve(t.Context(), keys[1], 1)
		r.Release()
		return err
	})
	t.Logf("budget removal seen on replica 2 after %v", took)
	// Set again on replica 1: replica 2 refuses within a second.
	if _, err := svcs[1].SetWorkspaceBudget(t.Context(), u.ID, "default", "daily", 0.0005, nil); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, time.Second, "Admit on replica 2 after a daily budget was set", func() error {
		_, err := svcs[2].Admit(t.Context(), keys[1])
		if keygate.ErrorCode(err) == keygate.EFORBIDDEN {
			return nil
		}
		return fmt.Errorf("Admit = %v", err)
	})
	t.Logf("budget set seen on replica 2 after %v", took)
}

// TestGuardrailReplicas: a guardrail assigned on one replica holds the
// key on another within a second (the other had its policy cached), and
// its limit, shared by two keys spending on three replicas, is never
// passed.
func TestGuardrailReplicas(t *testing.T) {
	svcs, dbs := replicas(t, 3)
	listen(t, svcs, dbs)
	u, err := svcs[0].CreateUser(t.Context(), fmt.Sprintf("gr%d@example.com", time.Now().UnixNano()), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	var keys []*keygate.APIKey
	for i := range 2 {
		_, k, err := svcs[0].CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: fmt.Sprintf("k%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	for _, svc := range svcs {
		if err := svc.CheckModel(t.Context(), keys[0], "m/two", "up"); err != nil {
			t.Fatal(err)
		}
	}
	name, limit := "team", 0.001
	g, err := svcs[0].CreateGuardrail(t.Context(), u.ID, nil, keygate.GuardrailParams{Name: &name,
		SetAllowedModels: true, AllowedModels: []string{"m/one"}, SetLimitUSD: true, LimitUSD: &limit})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcs[1].AssignGuardrailKeys(t.Context(), u.ID, g.ID, []string{keys[0].Hash, keys[1].Hash}, false); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, time.Second, "CheckModel on replica 2 after the guardrail was assigned", func() error {
		if err := svcs[2].CheckModel(t.Context(), keys[0], "m/two", "up"); keygate.ErrorCode(err) != keygate.EFORBIDDEN {
			return fmt.Errorf("CheckModel = %v", err)
		}
		return nil
	})
	t.Logf("assignment seen on replica 2 after %v", took)
	msg := "Guardrail limit exceeded (total limit of guardrail " + g.ID + ")"
	seen(t, svcs, keys[1])
	admitted := 0
	for _, k := range keys {
		n, refused := raceUntilDone(t, svcs, k, 100, 100)
		admitted += n
		for m := range refused {
			if m != msg {
				t.Errorf("refused with %q, want %q", m, msg)
			}
		}
	}
	// Never more than the limit; less by what idle leases hold, as above.
	if spent := keygate.Micros(admitted) * 100; spent > 1000 || admitted == 0 {
		t.Errorf("admitted %d (%d µ$), want 1 to 10 under a limit of 1000", admitted, spent)
	}
	t.Logf("admitted %d of a shared guardrail limit of 10", admitted)
}

// seen waits until every replica of svcs limits k: its Admit reports a
// remaining amount.
func seen(t *testing.T, svcs []*keygate.Service, k *keygate.APIKey) {
	t.Helper()
	for i, svc := range svcs {
		eventually(t, time.Second, fmt.Sprintf("a limit on replica %d", i), func() error {
			a, err := svc.Admit(t.Context(), k)
			if err != nil || a.Remaining == nil {
				return fmt.Errorf("Admit = %+v, %v", a, err)
			}
			return nil
		})
	}
}
