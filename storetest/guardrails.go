package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var guardrailTests = []test{
	{"RoundTrip", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, ws := newUser(t, s)
		g := fullGuardrail(u.ID, ws.ID)
		must(t, "CreateGuardrail", s.CreateGuardrail(ctx, g))
		got, err := s.Guardrail(ctx, g.ID)
		must(t, "Guardrail", err)
		diff(t, "Guardrail", g, got)
		wantUTC(t, "Guardrail", &got.CreatedAt)
		_, err = s.Guardrail(ctx, newID())
		wantErr(t, "Guardrail(unknown)", err, keygate.ErrNotFound)

		bare := &keygate.Guardrail{ID: newID(), UserID: u.ID, WorkspaceID: ws.ID, Name: "bare", CreatedAt: at(time.Minute)}
		must(t, "CreateGuardrail(bare)", s.CreateGuardrail(ctx, bare))
		got, err = s.Guardrail(ctx, bare.ID)
		must(t, "Guardrail(bare)", err)
		diff(t, "Guardrail(bare): null lists stay null", bare, got)
		if got.AllowedModels != nil || got.Limit != nil || got.UpdatedAt != nil {
			t.Errorf("bare guardrail read back as %+v", got)
		}

		updated := at(time.Hour)
		after, err := s.UpdateGuardrail(ctx, g.ID, func(st *keygate.Guardrail) error {
			diff(t, "UpdateGuardrail: the stored guardrail", g, st)
			st.Name, st.AllowedModels, st.Limit, st.UpdatedAt, st.EnforceZDR = "renamed", nil, nil, &updated, nil
			return nil
		})
		must(t, "UpdateGuardrail", err)
		g.Name, g.AllowedModels, g.Limit, g.UpdatedAt, g.EnforceZDR = "renamed", nil, nil, &updated, nil
		diff(t, "UpdateGuardrail's answer", g, after)
		got, err = s.Guardrail(ctx, g.ID)
		must(t, "Guardrail after update", err)
		diff(t, "Guardrail after update", g, got)
		refused := errors.New("refused")
		_, err = s.UpdateGuardrail(ctx, g.ID, func(st *keygate.Guardrail) error { st.Name = "lost"; return refused })
		wantErr(t, "UpdateGuardrail(apply fails)", err, refused)
		got, err = s.Guardrail(ctx, g.ID)
		must(t, "Guardrail after a refused update", err)
		diff(t, "Guardrail after a refused update", g, got)
		_, err = s.UpdateGuardrail(ctx, newID(), func(*keygate.Guardrail) error { return nil })
		wantErr(t, "UpdateGuardrail(unknown)", err, keygate.ErrNotFound)
	}},
	{"List", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, ws := newUser(t, s)
		other := newWorkspace(t, s, u.ID, "other", t0)
		mallory, _ := newUser(t, s)
		var want []*keygate.Guardrail
		for i, w := range []string{ws.ID, other.ID, ws.ID} {
			g := &keygate.Guardrail{ID: newID(), UserID: u.ID, WorkspaceID: w, Name: "g", CreatedAt: at(time.Duration(i) * time.Minute)}
			must(t, "CreateGuardrail", s.CreateGuardrail(ctx, g))
			want = append(want, g)
		}
		must(t, "CreateGuardrail(mallory)", s.CreateGuardrail(ctx, &keygate.Guardrail{ID: newID(), UserID: mallory.ID, WorkspaceID: ws.ID, Name: "m", CreatedAt: t0}))
		got, total, err := s.ListGuardrails(ctx, u.ID, "", 1, 10)
		must(t, "ListGuardrails", err)
		if total != 3 {
			t.Errorf("total %d, want 3", total)
		}
		diff(t, "ListGuardrails(offset 1)", want[1:], got)
		got, total, err = s.ListGuardrails(ctx, u.ID, ws.ID, 0, 1)
		must(t, "ListGuardrails(workspace)", err)
		if total != 2 {
			t.Errorf("total in workspace %d, want 2", total)
		}
		diff(t, "ListGuardrails(workspace, limit 1)", want[:1], got)
	}},
	{"Assignments", testGuardrailAssignments},
	{"ConcurrentUpdates", func(t *testing.T, s keygate.Store) {
		// 8 updates of the name and 8 of the allowed models at once: each
		// reads the row as the last one left it, so none is undone.
		u, ws := newUser(t, s)
		g := &keygate.Guardrail{ID: newID(), UserID: u.ID, WorkspaceID: ws.ID, Name: "g", CreatedAt: t0}
		must(t, "CreateGuardrail", s.CreateGuardrail(t.Context(), g))
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				_, err := s.UpdateGuardrail(t.Context(), g.ID, func(st *keygate.Guardrail) error {
					if i%2 == 0 {
						st.Name += "n"
					} else {
						st.AllowedModels = append(st.AllowedModels, fmt.Sprintf("m/%d", i))
					}
					return nil
				})
				if err != nil {
					t.Errorf("UpdateGuardrail: %v", err)
				}
			})
		}
		wg.Wait()
		got, err := s.Guardrail(t.Context(), g.ID)
		must(t, "Guardrail", err)
		if got.Name != "gnnnnnnnn" || len(got.AllowedModels) != 8 {
			t.Errorf("after 16 concurrent updates: name %q, %d allowed models; want gnnnnnnnn and 8", got.Name, len(got.AllowedModels))
		}
	}},
	{"Leases", func(t *testing.T, s keygate.Store) {
		ls, ok := s.(keygate.LeaseStore)
		if !ok {
			t.Skip("the store hands out no leases")
		}
		u, ws := newUser(t, s)
		limit := keygate.Micros(1000)
		g := &keygate.Guardrail{ID: newID(), UserID: u.ID, WorkspaceID: ws.ID, Name: "g", Limit: &limit, LimitReset: keygate.ResetDaily, CreatedAt: t0}
		must(t, "CreateGuardrail", s.CreateGuardrail(t.Context(), g))
		stand := &keygate.APIKey{Hash: keygate.GuardrailCounterHash(g.ID), Limit: &limit, LimitReset: keygate.ResetDaily}
		w := keygate.UsageCounter{KeyHash: stand.Hash, Period: keygate.PeriodDay, Start: keygate.PeriodsAt(t0).Day}
		record(t, s, stand.Hash, []string{stand.Hash}, t0, 250, false)
		l := acquire(t, ls, keygate.LeaseRequest{Key: stand, Window: w, Want: 1000, TTL: time.Minute})
		diff(t, "guardrail lease", keygate.Lease{ID: l.ID, Granted: 750, Amount: 750, Used: 250, Room: 0}, l)
		weekly := &keygate.APIKey{Hash: stand.Hash, Limit: &limit, LimitReset: keygate.ResetWeekly}
		_, err := ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{{Key: weekly, Window: w, Want: 1, TTL: time.Minute}})
		wantErr(t, "AcquireLeases(other reset)", err, keygate.ErrConflict)
		must(t, "DeleteGuardrail", s.DeleteGuardrail(t.Context(), g.ID))
		_, err = ls.AcquireLeases(t.Context(), []keygate.LeaseRequest{{Key: stand, Window: w, Want: 1, TTL: time.Minute}})
		wantErr(t, "AcquireLeases(deleted guardrail)", err, keygate.ErrNotFound)
	}},
}

// testGuardrailAssignments: assignments are counted once each, listed per
// guardrail and per user, read per key, gone with their key or
// guardrail, and announced.
func testGuardrailAssignments(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	l := Listen(t, feedOf(t, s))
	u, ws := newUser(t, s)
	a, b := newKey(t, s, ws, t0), newKey(t, s, ws, t0)
	g1 := &keygate.Guardrail{ID: newID(), UserID: u.ID, WorkspaceID: ws.ID, Name: "one", CreatedAt: t0}
	g2 := &keygate.Guardrail{ID: newID(), UserID: u.ID, WorkspaceID: ws.ID, Name: "two", CreatedAt: at(time.Minute)}
	must(t, "CreateGuardrail", s.CreateGuardrail(ctx, g1))
	must(t, "CreateGuardrail", s.CreateGuardrail(ctx, g2))
	l.Watch(g1.ID, g2.ID)

	n, err := s.AssignGuardrailKeys(ctx, g1.ID, []string{a.Hash, b.Hash}, u.ID, at(time.Hour))
	must(t, "AssignGuardrailKeys", err)
	l.Want(t, Event{keygate.ChangeGuardrail, g1.ID})
	if n != 2 {
		t.Errorf("assigned %d, want 2", n)
	}
	n, err = s.AssignGuardrailKeys(ctx, g1.ID, []string{a.Hash}, u.ID, at(2*time.Hour))
	must(t, "AssignGuardrailKeys(again)", err)
	if n != 0 {
		t.Errorf("assigned again %d, want 0", n)
	}
	_, err = s.AssignGuardrailKeys(ctx, g2.ID, []string{a.Hash, keygate.HashSecret("none")}, u.ID, at(time.Hour))
	wantErr(t, "AssignGuardrailKeys(unknown key)", err, keygate.ErrNotFound)
	_, err = s.AssignGuardrailKeys(ctx, g2.ID, []string{a.Hash}, u.ID, at(3*time.Hour))
	must(t, "AssignGuardrailKeys(g2)", err)

	gs, err := s.KeyGuardrails(ctx, a.Hash)
	must(t, "KeyGuardrails", err)
	if len(gs) != 2 || gs[0].ID != g1.ID || gs[1].ID != g2.ID {
		t.Errorf("KeyGuardrails(a) = %d guardrails, want g1 then g2", len(gs))
	}
	list, total, err := s.GuardrailKeyAssignments(ctx, u.ID, g1.ID, 0, 10)
	must(t, "GuardrailKeyAssignments(g1)", err)
	if total != 2 || len(list) != 2 {
		t.Fatalf("GuardrailKeyAssignments(g1) = %d, %d listed; want 2", total, len(list))
	}
	for _, as := range list {
		if as.KeyHash == a.Hash && (as.GuardrailID != g1.ID || as.KeyName != a.Name || as.KeyLabel != a.Label ||
			as.AssignedBy == nil || *as.AssignedBy != u.ID || as.CreatedAt.Sub(at(time.Hour)).Abs() >= time.Microsecond) {
			t.Errorf("assignment of a = %+v", as)
		}
	}
	_, total, err = s.GuardrailKeyAssignments(ctx, u.ID, "", 0, 1)
	must(t, "GuardrailKeyAssignments(all)", err)
	if total != 3 {
		t.Errorf("all assignments %d, want 3", total)
	}

	n, err = s.UnassignGuardrailKeys(ctx, g1.ID, []string{a.Hash, keygate.HashSecret("none")})
	must(t, "UnassignGuardrailKeys", err)
	if n != 1 {
		t.Errorf("unassigned %d, want 1", n)
	}
	must(t, "DeleteKey(b)", s.DeleteKey(ctx, b.Hash))
	must(t, "DeleteGuardrail(g2)", s.DeleteGuardrail(ctx, g2.ID))
	wantErr(t, "DeleteGuardrail(again)", s.DeleteGuardrail(ctx, g2.ID), keygate.ErrNotFound)
	_, total, err = s.GuardrailKeyAssignments(ctx, u.ID, "", 0, 10)
	must(t, "GuardrailKeyAssignments(after)", err)
	if total != 0 {
		t.Errorf("assignments left %d, want 0", total)
	}
	l.Want(t, Event{keygate.ChangeGuardrail, g1.ID}) // the idempotent assign
	l.Want(t, Event{keygate.ChangeGuardrail, g2.ID})
	l.Want(t, Event{keygate.ChangeGuardrail, g1.ID}) // unassign
	l.Want(t, Event{keygate.ChangeGuardrail, g2.ID}) // delete
}

func fullGuardrail(userID, wsID string) *keygate.Guardrail {
	limit := keygate.Micros(2_500_000)
	label := "[EMAIL]"
	return &keygate.Guardrail{
		ID: newID(), UserID: userID, WorkspaceID: wsID, Name: "Production", Description: ptr("prod keys"),
		AllowedModels: []string{"openai/gpt-4o", "t/cheap"}, IgnoredModels: []string{"x/y"},
		AllowedProviders: []string{"tu"}, IgnoredProviders: []string{"other"}, AllowedDataRegions: []string{"europe"},
		Limit: &limit, LimitReset: keygate.ResetMonthly, IncludeBYOK: true,
		GuardrailUnenforced: keygate.GuardrailUnenforced{
			ContentFilters:        []keygate.ContentFilter{{Action: "block", Pattern: `\d{16}`}},
			ContentFilterBuiltins: []keygate.ContentFilterBuiltin{{Action: "redact", Label: &label, Slug: "email"}},
			EnforceZDR:            ptr(true), EnableFreeModelTraining: ptr(false),
		},
		CreatedAt: t0,
	}
}
