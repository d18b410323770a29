package keygate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func strp(s string) *string { return &s }

// guardrail creates a guardrail of the fixture's user from p.
func (f *fixture) guardrail(p keygate.GuardrailParams) *keygate.Guardrail {
	f.t.Helper()
	if p.Name == nil {
		p.Name = strp("g")
	}
	g, err := f.svc.CreateGuardrail(f.ctx, f.user.ID, nil, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

func (f *fixture) assign(g *keygate.Guardrail, keys ...*keygate.APIKey) {
	f.t.Helper()
	var hashes []string
	for _, k := range keys {
		hashes = append(hashes, k.Hash)
	}
	if _, err := f.svc.AssignGuardrailKeys(f.ctx, f.user.ID, g.ID, hashes, false); err != nil {
		f.t.Fatal(err)
	}
}

// TestGuardrailModels: several guardrails on one key combine as OpenRouter
// documents: the allow-lists intersect, an ignored model or provider is
// refused whichever guardrail ignores it; a key minted from a guarded key
// is held to its parent's guardrails; unassigning lifts them.
func TestGuardrailModels(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{})
	_, free := f.newKey(keygate.NewKeyParams{Name: "free"})
	a := f.guardrail(keygate.GuardrailParams{SetAllowedModels: true, AllowedModels: []string{"m/one", "m/two", "m/three"}})
	b := f.guardrail(keygate.GuardrailParams{SetAllowedModels: true, AllowedModels: []string{"m/two", "m/three", "m/four"},
		SetIgnoredModels: true, IgnoredModels: []string{"m/three"}, SetIgnoredProviders: true, IgnoredProviders: []string{"bad"}})
	f.assign(a, k)
	f.assign(b, k)
	child := f.delegated(k, nil)
	tests := []struct {
		model, provider string
		msg             string
	}{
		{"m/two", "up", ""},
		{"m/one", "up", `Model "m/one" is not allowed by this key's guardrails`},
		{"m/four", "up", `Model "m/four" is not allowed by this key's guardrails`},
		{"m/three", "up", `Model "m/three" is not allowed by this key's guardrails`},
		{"m/two", "bad", `Provider "bad" of model "m/two" is not allowed by this key's guardrails`},
		{"M/two", "up", `Model "M/two" is not allowed by this key's guardrails`},
	}
	for _, tt := range tests {
		for _, key := range []*keygate.APIKey{k, child} {
			err := f.svc.CheckModel(f.ctx, key, tt.model, tt.provider)
			if tt.msg == "" && err != nil || tt.msg != "" && (keygate.ErrorCode(err) != keygate.EFORBIDDEN || keygate.ErrorMessage(err) != tt.msg) {
				t.Errorf("CheckModel(%s, %q, %q) = %v, want %q", key.Name, tt.model, tt.provider, err, tt.msg)
			}
		}
		if err := f.svc.CheckModel(f.ctx, free, tt.model, tt.provider); err != nil {
			t.Errorf("CheckModel(unguarded key, %q) = %v", tt.model, err)
		}
	}
	if _, err := f.svc.AssignGuardrailKeys(f.ctx, f.user.ID, b.ID, []string{k.Hash}, true); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckModel(f.ctx, k, "m/one", "bad"); err != nil {
		t.Errorf("CheckModel after b was unassigned = %v", err)
	}
	if _, err := f.svc.UpdateGuardrail(f.ctx, f.user.ID, a.ID, keygate.GuardrailParams{SetAllowedModels: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckModel(f.ctx, k, "m/anything", "up"); err != nil {
		t.Errorf("CheckModel after a's list was cleared = %v", err)
	}
}

// TestGuardrailLimitShared: a guardrail's limit_usd counts what all its
// keys spend together; past it both are refused by Reserve and Admit,
// naming the guardrail and its window, and the next UTC day admits them.
func TestGuardrailLimitShared(t *testing.T) {
	f := newFixture(t)
	_, a := f.newKey(keygate.NewKeyParams{Name: "a"})
	_, b := f.newKey(keygate.NewKeyParams{Name: "b"})
	_, c := f.newKey(keygate.NewKeyParams{Name: "c"})
	usd := 0.0005
	g := f.guardrail(keygate.GuardrailParams{SetLimitUSD: true, LimitUSD: &usd, SetResetInterval: true, ResetInterval: strp("daily")})
	f.assign(g, a, b)
	spend(t, f.svc, a, 300, 300)
	spend(t, f.svc, b, 200, 200)
	spend(t, f.svc, c, 900, 900) // not assigned: counts for nothing
	msg := "Guardrail limit exceeded (daily limit of guardrail " + g.ID + ")"
	for _, k := range []*keygate.APIKey{a, b} {
		_, err := f.svc.Reserve(f.ctx, k, 1)
		wantRefused(t, "Reserve("+k.Name+")", err, msg)
		_, err = f.svc.Admit(f.ctx, k)
		wantRefused(t, "Admit("+k.Name+")", err, msg)
	}
	f.clock.Set(keygate.PeriodsAt(f.clock.Now()).Day.Add(24 * time.Hour))
	spend(t, f.svc, a, 500, 500)
	_, err := f.svc.Reserve(f.ctx, b, 1)
	wantRefused(t, "Reserve(b) after a spent the next day's limit", err, msg)
	// Raised: admitted at once.
	more := 0.001
	if _, err := f.svc.UpdateGuardrail(f.ctx, f.user.ID, g.ID, keygate.GuardrailParams{SetLimitUSD: true, LimitUSD: &more}); err != nil {
		t.Fatal(err)
	}
	spend(t, f.svc, b, 500, 500)
}

// TestGuardrailRequests: the rules of the guardrail calls.
func TestGuardrailRequests(t *testing.T) {
	f := newFixture(t)
	mallory := f.newUser("mallory@example.com")
	_, k := f.newKey(keygate.NewKeyParams{})
	_, theirs, err := f.svc.CreateKey(f.ctx, keygate.NewKeyParams{UserID: mallory.ID, Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	neg, tiny := -1.0, 0.0000001
	tests := []struct {
		name string
		p    keygate.GuardrailParams
		msg  string
	}{
		{"no-name", keygate.GuardrailParams{}, "name is required"},
		{"blank-name", keygate.GuardrailParams{Name: strp("  ")}, "name is required"},
		{"model-with-space", keygate.GuardrailParams{Name: strp("g"), SetAllowedModels: true, AllowedModels: []string{"a b"}}, "allowed_models[0]"},
		{"empty-provider", keygate.GuardrailParams{Name: strp("g"), SetIgnoredProviders: true, IgnoredProviders: []string{"ok", ""}}, "ignored_providers[1]"},
		{"region", keygate.GuardrailParams{Name: strp("g"), SetAllowedDataRegions: true, AllowedDataRegions: []string{"mars"}}, "allowed_data_regions[0]"},
		{"negative-limit", keygate.GuardrailParams{Name: strp("g"), SetLimitUSD: true, LimitUSD: &neg}, "limit_usd"},
		{"tiny-limit", keygate.GuardrailParams{Name: strp("g"), SetLimitUSD: true, LimitUSD: &tiny}, "limit_usd"},
		{"lifetime", keygate.GuardrailParams{Name: strp("g"), SetResetInterval: true, ResetInterval: strp("lifetime")}, "reset_interval"},
		{"filter-without-pattern", keygate.GuardrailParams{Name: strp("g"), SetContentFilters: true, ContentFilters: []keygate.ContentFilter{{Action: "block"}}}, "content_filters[0]"},
		{"builtin-without-slug", keygate.GuardrailParams{Name: strp("g"), SetContentFilterBuiltins: true, ContentFilterBuiltins: []keygate.ContentFilterBuiltin{{Action: "block"}}}, "content_filter_builtins[0]"},
		{"too-many-models", keygate.GuardrailParams{Name: strp("g"), SetAllowedModels: true, AllowedModels: make([]string, keygate.MaxGuardrailListLen+1)}, "allowed_models"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.CreateGuardrail(f.ctx, f.user.ID, nil, tt.p)
			if keygate.ErrorCode(err) != keygate.EINVALID || !strings.Contains(keygate.ErrorMessage(err), tt.msg) {
				t.Errorf("CreateGuardrail = %v, want 400 naming %s", err, tt.msg)
			}
		})
	}
	g := f.guardrail(keygate.GuardrailParams{SetAllowedModels: true, AllowedModels: []string{"a/b", "a/b", "c/d"}})
	if len(g.AllowedModels) != 2 || g.WorkspaceID == "" {
		t.Errorf("guardrail = %+v, want models kept once each, in the default workspace", g)
	}
	if _, err := f.svc.GetGuardrail(f.ctx, mallory.ID, g.ID); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("GetGuardrail(another user's) = %v", err)
	}
	if _, err := f.svc.UpdateGuardrail(f.ctx, mallory.ID, g.ID, keygate.GuardrailParams{Name: strp("x")}); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("UpdateGuardrail(another user's) = %v", err)
	}
	if _, err := f.svc.AssignGuardrailKeys(f.ctx, mallory.ID, g.ID, []string{theirs.Hash}, false); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("AssignGuardrailKeys(another user's guardrail) = %v", err)
	}
	_, err = f.svc.AssignGuardrailKeys(f.ctx, f.user.ID, g.ID, []string{k.Hash, theirs.Hash}, false)
	if keygate.ErrorCode(err) != keygate.EINVALID || keygate.ErrorMessage(err) != "key_hashes[1] is not one of your keys" {
		t.Errorf("AssignGuardrailKeys(another user's key) = %v", err)
	}
	if _, err := f.svc.AssignGuardrailKeys(f.ctx, f.user.ID, g.ID, nil, false); keygate.ErrorCode(err) != keygate.EINVALID {
		t.Errorf("AssignGuardrailKeys(none) = %v", err)
	}
	if n, err := f.svc.AssignGuardrailKeys(f.ctx, f.user.ID, g.ID, []string{k.Hash, k.Hash}, false); n != 1 || err != nil {
		t.Errorf("AssignGuardrailKeys(k twice) = %d, %v; want 1", n, err)
	}
	if err := f.svc.DeleteGuardrail(f.ctx, mallory.ID, g.ID); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("DeleteGuardrail(another user's) = %v", err)
	}
	if err := f.svc.DeleteGuardrail(f.ctx, f.user.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckModel(f.ctx, k, "x/y", "up"); err != nil {
		t.Errorf("CheckModel after the guardrail was deleted = %v", err)
	}
}

// TestReportedUsageCountsInPolicies: a charge reported without a
// reservation (POST /api/v1/usage, forward-auth) counts in the key's
// workspace budgets and guardrail limits like a gateway request.
func TestReportedUsageCountsInPolicies(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{})
	if _, err := f.svc.SetWorkspaceBudget(f.ctx, f.user.ID, "default", "weekly", 0.001, nil); err != nil {
		t.Fatal(err)
	}
	usd := 0.0005
	g := f.guardrail(keygate.GuardrailParams{SetLimitUSD: true, LimitUSD: &usd})
	f.assign(g, k)
	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{ID: "reported-1", KeyHash: k.Hash, Model: "t/m", Cost: 500}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Admit(f.ctx, k)
	wantRefused(t, "Admit after a reported charge", err, "Guardrail limit exceeded (total limit of guardrail "+g.ID+")")
	if err := f.svc.DeleteGuardrail(f.ctx, f.user.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	adm, err := f.svc.Admit(f.ctx, k)
	if err != nil || adm.Remaining == nil || *adm.Remaining != 500 {
		t.Fatalf("Admit after the guardrail went = %+v, %v; want 500 µ$ left of the weekly budget", adm, err)
	}
	// A retried report charges nothing again.
	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{ID: "reported-1", KeyHash: k.Hash, Model: "t/m", Cost: 500}); err != nil {
		t.Fatal(err)
	}
	if adm, _ := f.svc.Admit(f.ctx, k); adm == nil || *adm.Remaining != 500 {
		t.Errorf("Admit after a retried report = %+v, want 500 µ$ left", adm)
	}
}
