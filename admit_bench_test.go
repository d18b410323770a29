package keygate_test

import (
	"context"
	"testing"

	"github.com/keygate/keygate"
)

// BenchmarkAdmit is what GET /api/v1/auth/verify asks of the service after
// Authenticate, for 1,000 keys without a limit, budget or guardrail.
func BenchmarkAdmit(b *testing.B) {
	svc, secrets := benchService(b, 1_000)
	ctx := context.Background()
	keys := make([]*keygate.APIKey, len(secrets))
	for i, s := range secrets {
		k, err := svc.Authenticate(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
		if _, err := svc.Admit(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.Admit(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAdmitGuarded is BenchmarkAdmit for keys whose workspace has a
// monthly budget and which share a guardrail with two allowed models and
// a daily limit: the policy and the budgets come from their caches, the
// usage of the budget and of the guardrail from the balances.
func BenchmarkAdmitGuarded(b *testing.B) {
	svc, secrets := benchService(b, 1_000)
	ctx := context.Background()
	keys := make([]*keygate.APIKey, len(secrets))
	hashes := make([]string, len(secrets))
	for i, s := range secrets {
		k, err := svc.Authenticate(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		keys[i], hashes[i] = k, k.Hash
	}
	userID := keys[0].UserID
	if _, err := svc.SetWorkspaceBudget(ctx, userID, "default", "monthly", 500, nil); err != nil {
		b.Fatal(err)
	}
	name, limit, daily := "team", 100.0, "daily"
	g, err := svc.CreateGuardrail(ctx, userID, nil, keygate.GuardrailParams{Name: &name,
		SetAllowedModels: true, AllowedModels: []string{"openai/gpt-4o", "t/cheap"},
		SetLimitUSD: true, LimitUSD: &limit, SetResetInterval: true, ResetInterval: &daily})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.AssignGuardrailKeys(ctx, userID, g.ID, hashes, false); err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		if _, err := svc.Admit(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("admit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := svc.Admit(ctx, keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("check-model", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := svc.CheckModel(ctx, keys[i%len(keys)], "t/cheap", "tu"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
