package keygate_test

import (
	"testing"

	"github.com/keygate/keygate"
)

// TestAdmit: Admit decides as Reserve does, from the key and its
// delegation ancestors, and reports the smallest room left along them.
func TestAdmit(t *testing.T) {
	micros := func(m keygate.Micros) *keygate.Micros { return &m }
	tests := []struct {
		name      string
		rootLimit *float64 // the key a code was minted from
		leafLimit *keygate.Micros
		spent     keygate.Micros // charged to the leaf, so to the root too
		reset     string
		code, msg string
		remaining *keygate.Micros
	}{
		{"no-limits", nil, nil, 5 * usd, "", "", "", nil},
		{"root's-room", ptr(3.0), nil, 1 * usd, "", "", "", micros(2 * usd)},
		{"leaf's-room-is-smaller", ptr(3.0), micros(usd + 500_000), 1 * usd, "", "", "", micros(500_000)},
		{"one micro-dollar left", ptr(1.0), nil, usd - 1, "", "", "", micros(1)},
		{"root-at-its-limit", ptr(1.0), nil, 1 * usd, "", keygate.EFORBIDDEN, "Key limit exceeded (total limit)", nil},
		{"leaf-at-its-limit", ptr(10.0), micros(usd), 1 * usd, "", keygate.EFORBIDDEN, "Key limit exceeded (total limit)", nil},
		{"root-past-its-daily-limit", ptr(1.0), nil, 2 * usd, "daily", keygate.EFORBIDDEN, "Key limit exceeded (daily limit)", nil},
		{"a-limit-of-0", ptr(0.0), nil, 0, "", keygate.EFORBIDDEN, "Key limit exceeded (total limit)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, root := f.newKey(keygate.NewKeyParams{LimitUSD: tt.rootLimit, LimitReset: tt.reset})
			leaf := f.delegated(root, tt.leafLimit)
			if tt.spent > 0 {
				if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: leaf.Hash, Cost: tt.spent}); err != nil {
					t.Fatal(err)
				}
			}
			a, err := f.svc.Admit(f.ctx, leaf)
			wantCode(t, err, tt.code, tt.msg)
			// The same verdict as the gateway's admission.
			r, rerr := f.svc.Reserve(f.ctx, leaf, 1)
			r.Release()
			if keygate.ErrorCode(rerr) != tt.code || keygate.ErrorMessage(rerr) != keygate.ErrorMessage(err) {
				t.Errorf("Reserve = %v, Admit = %v: want the same verdict", rerr, err)
			}
			if err != nil {
				return
			}
			switch {
			case (a.Remaining == nil) != (tt.remaining == nil):
				t.Errorf("Remaining = %v, want %v", a.Remaining, tt.remaining)
			case a.Remaining != nil && *a.Remaining != *tt.remaining:
				t.Errorf("Remaining = %d, want %d", *a.Remaining, *tt.remaining)
			}
		})
	}
	t.Run("disabled-ancestor", func(t *testing.T) {
		f := newFixture(t)
		_, root := f.newKey(keygate.NewKeyParams{})
		leaf := f.delegated(root, nil)
		if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, root.Hash, true); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Admit(f.ctx, leaf)
		wantCode(t, err, keygate.EUNAUTHORIZED, "")
	})
}

// TestReportUsage: reported events are charged to the key and its
// ancestors once per id, attributed to the app they name, and a bad one is
// rejected alone.
func TestReportUsage(t *testing.T) {
	f := newFixture(t)
	_, root := f.newKey(keygate.NewKeyParams{})
	leaf := f.delegated(root, nil)
	cost := func(m keygate.Micros) *keygate.Micros { return &m }
	price := func(model string, prompt, completion int64) (keygate.Micros, bool) {
		return keygate.Micros(prompt + 2*completion), model == "priced"
	}
	events := []keygate.UsageEvent{
		{ID: "a", KeyHash: leaf.Hash, Model: "m", Cost: cost(300)},
		{ID: "b", KeyHash: leaf.Hash, Model: "priced", PromptTokens: 10, CompletionTokens: 20},
		{ID: "c", KeyHash: leaf.Hash, Model: "m", Cost: cost(7), App: &keygate.Attribution{Referer: "https://app.example.com/x", Title: "X"}},
		{ID: "d", KeyHash: leaf.Hash, Model: "unpriced", PromptTokens: 10},
	}
	rep, err := f.svc.ReportUsage(f.ctx, events, price)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 3 || rep.Duplicates != 0 || len(rep.Rejected) != 1 || rep.Rejected[0].ID != "d" {
		t.Fatalf("report = %+v; want 3 accepted and d rejected", rep)
	}
	again, err := f.svc.ReportUsage(f.ctx, events[:3], price)
	if err != nil || again.Accepted != 0 || again.Duplicates != 3 {
		t.Fatalf("the same events again = %+v, %v; want 3 duplicates", again, err)
	}
	for _, k := range []*keygate.APIKey{leaf, root} {
		f.svc.InvalidateUsage(k.Hash)
		info, err := f.svc.KeyInfo(f.ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if info.Usage.Total != 357 {
			t.Errorf("%s usage = %d µ$, want 357 (300 + 10 + 2×20 + 7)", k.Name, info.Usage.Total)
		}
	}
	g, err := f.svc.Generation(f.ctx, f.user.ID, "usage-c")
	if err != nil {
		t.Fatal(err)
	}
	app, err := f.svc.AttributeApp(f.ctx, leaf, keygate.Attribution{Referer: "https://app.example.com/x", Title: "X"})
	if err != nil || g.AppID == nil || app == nil || *g.AppID != *app || g.Cost != 7 {
		t.Errorf("generation usage-c: app %v, cost %d; want app %v, cost 7 (err %v)", g.AppID, g.Cost, app, err)
	}
	if _, err := f.svc.ReportUsage(f.ctx, nil, price); keygate.ErrorCode(err) != keygate.EINVALID {
		t.Errorf("an empty batch = %v, want EINVALID", err)
	}
}
