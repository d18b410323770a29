package gateway_test

import (
	"net/http"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestWorkspaceBudget: two keys of one workspace, without limits of their
// own, spend its monthly budget together through the gateway; then both
// are refused 403 naming the budget and its window, by the gateway and by
// /auth/verify, a key of another workspace is not, and the next UTC month
// admits them again.
func TestWorkspaceBudget(t *testing.T) {
	clk := &clock{now: parseTime(t, "2026-03-31T23:00:00Z")}
	e := newEnv(t, keygate.WithClock(clk.Now))
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}) // 35 µ$
	ctx := t.Context()
	ws, err := e.svc.CreateWorkspace(ctx, keygate.NewWorkspaceParams{UserID: e.user.ID, Name: "Team"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range 2 {
		k, _, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "member", WorkspaceID: &ws.ID})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	outside := e.key(nil)
	if _, err := e.svc.SetWorkspaceBudget(ctx, e.user.ID, "team", "monthly", 0.00007, nil); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if r := e.post("/api/v1/chat/completions", k, chat("t/cheap", false, "max_tokens", 20)); r.status != http.StatusOK {
			t.Fatalf("request of key %d: %d %s", i, r.status, r.body)
		}
	}
	msg := "Workspace budget exceeded (monthly budget of workspace " + ws.ID + ")"
	for i, k := range keys {
		r := e.post("/api/v1/chat/completions", k, chat("t/cheap", false, "max_tokens", 20))
		if r.status != http.StatusForbidden || r.errMessage(t) != msg {
			t.Errorf("key %d past the budget: %d %s, want 403 %q", i, r.status, r.body, msg)
		}
		r = e.get("/api/v1/auth/verify", k)
		if r.status != http.StatusForbidden || r.errMessage(t) != msg {
			t.Errorf("verify of key %d past the budget: %d %s, want 403 %q", i, r.status, r.body, msg)
		}
	}
	if r := e.post("/api/v1/chat/completions", outside, chat("t/cheap", false, "max_tokens", 20)); r.status != http.StatusOK {
		t.Errorf("key of another workspace: %d %s", r.status, r.body)
	}
	if got := e.spent(keys[0]) + e.spent(keys[1]); got != 70 {
		t.Errorf("the team spent %d µ$, want 70", got)
	}
	clk.set(parseTime(t, "2026-04-01T00:00:00Z"))
	for i, k := range keys {
		if r := e.post("/api/v1/chat/completions", k, chat("t/cheap", false, "max_tokens", 20)); r.status != http.StatusOK {
			t.Errorf("key %d in the next month: %d %s", i, r.status, r.body)
		}
	}
}

// TestGuardrails: a guardrail allowing two models holds its keys to them
// (403 naming the model, the upstream never asked), an ignored provider
// refuses its models, and the guardrail's limit_usd is spent by its keys
// together.
func TestGuardrails(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}) // 35 µ$
	ctx := t.Context()
	var keys []string
	var hashes []string
	for range 2 {
		k, key, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "member"})
		if err != nil {
			t.Fatal(err)
		}
		keys, hashes = append(keys, k), append(hashes, key.Hash)
	}
	name, limit, daily := "team", 0.00007, "daily"
	g, err := e.svc.CreateGuardrail(ctx, e.user.ID, nil, keygate.GuardrailParams{
		Name: &name, SetAllowedModels: true, AllowedModels: []string{"t/cheap", "t/slow"},
		SetIgnoredProviders: true, IgnoredProviders: []string{"tu-fast"},
		SetLimitUSD: true, LimitUSD: &limit, SetResetInterval: true, ResetInterval: &daily,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignGuardrailKeys(ctx, e.user.ID, g.ID, hashes, false); err != nil {
		t.Fatal(err)
	}
	before := len(e.up.Requests())
	for _, tt := range []struct{ model, msg string }{
		{"t/up", `Model "t/up" is not allowed by this key's guardrails`},
		{"t/anything", `Model "t/anything" is not allowed by this key's guardrails`},
		{"t/slow", `Provider "tu-fast" of model "t/slow" is not allowed by this key's guardrails`},
	} {
		r := e.post("/api/v1/chat/completions", keys[0], chat(tt.model, false, "max_tokens", 20))
		if r.status != http.StatusForbidden || r.errMessage(t) != tt.msg {
			t.Errorf("%s: %d %s, want 403 %q", tt.model, r.status, r.body, tt.msg)
		}
	}
	if n := len(e.up.Requests()) - before; n != 0 {
		t.Errorf("the upstream was asked %d times for refused models", n)
	}
	for i, k := range keys {
		if r := e.post("/api/v1/chat/completions", k, chat("t/cheap", false, "max_tokens", 20)); r.status != http.StatusOK {
			t.Fatalf("key %d: %d %s", i, r.status, r.body)
		}
	}
	msg := "Guardrail limit exceeded (daily limit of guardrail " + g.ID + ")"
	for i, k := range keys {
		r := e.post("/api/v1/chat/completions", k, chat("t/cheap", false, "max_tokens", 20))
		if r.status != http.StatusForbidden || r.errMessage(t) != msg {
			t.Errorf("key %d past the guardrail's limit: %d %s, want 403 %q", i, r.status, r.body, msg)
		}
	}
	if r := e.post("/api/v1/chat/completions", e.key(nil), chat("t/up", false, "max_tokens", 20)); r.status == http.StatusForbidden {
		t.Errorf("a key without guardrails: %d %s", r.status, r.body)
	}
}
