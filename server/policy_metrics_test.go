package server_test

import (
	"testing"

	"github.com/keygate/keygate"
)

// TestPolicyMetrics: refusals by a workspace budget, a guardrail's limit
// and a guardrail's model list each count in
// keygate_policy_rejections_total under their policy.
func TestPolicyMetrics(t *testing.T) {
	f := newFwd(t)
	ctx := t.Context()
	ws, err := f.svc.CreateWorkspace(ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Capped"})
	if err != nil {
		t.Fatal(err)
	}
	capped, _, err := f.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: f.user.ID, Name: "capped", WorkspaceID: &ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetWorkspaceBudget(ctx, f.user.ID, ws.ID, "lifetime", 0, nil); err != nil {
		t.Fatal(err)
	}
	spent, guarded := f.newKey(nil), f.newKey(nil)
	name, zero := "g", 0.0
	for _, tt := range []struct {
		key string
		p   keygate.GuardrailParams
	}{
		{spent, keygate.GuardrailParams{Name: &name, SetLimitUSD: true, LimitUSD: &zero}},
		{guarded, keygate.GuardrailParams{Name: &name, SetAllowedModels: true, AllowedModels: []string{"x/only"}}},
	} {
		g, err := f.svc.CreateGuardrail(ctx, f.user.ID, nil, tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AssignGuardrailKeys(ctx, f.user.ID, g.ID, []string{keygate.HashSecret(tt.key)}, false); err != nil {
			t.Fatal(err)
		}
	}
	before := f.scrape()
	for _, k := range []string{capped, spent} {
		if r := f.do("GET", "/api/v1/auth/verify", "", "Authorization", "Bearer "+k); r.status != 403 {
			t.Errorf("verify: %d %s, want 403", r.status, r.body)
		}
	}
	r := f.do("POST", "/api/v1/chat/completions", `{"model":"t/priced","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+guarded)
	if r.status != 403 {
		t.Errorf("chat of a model outside the guardrail: %d %s, want 403", r.status, r.body)
	}
	after := f.scrape()
	for _, policy := range []string{"workspace_budget", "guardrail_limit", "guardrail_model"} {
		name := "keygate_policy_rejections_total"
		if d := sample(after, name, "policy", policy) - sample(before, name, "policy", policy); d != 1 {
			t.Errorf("%s{policy=%q} moved by %v, want 1", name, policy, d)
		}
	}
	if d := sample(after, "keygate_limit_rejections_total", "window", "total") - sample(before, "keygate_limit_rejections_total", "window", "total"); d != 0 {
		t.Errorf("keygate_limit_rejections_total moved by %v for policy refusals, want 0", d)
	}
}
