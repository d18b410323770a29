package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var rollupTests = []test{
	{"EqualEvents", func(t *testing.T, s keygate.Store) {
		// Charges recorded at once from many goroutines, over a UTC
		// midnight, some of them again under the same id: the rollups are
		// the sums of the generations that were new, row by row.
		u1, ws1 := newUser(t, s)
		u2, ws2 := newUser(t, s)
		k1, k2 := newKey(t, s, ws1, t0), newKey(t, s, ws2, t0)
		apps := []*keygate.App{newApp(t, s, "https://a.example"), newApp(t, s, "https://b.example")}
		midnight := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)
		const workers, each = 8, 40
		var mu sync.Mutex
		var charged []*keygate.Generation
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					n := w*each + i
					k, u, ws := k1, u1, ws1
					if n%3 == 0 {
						k, u, ws = k2, u2, ws2
					}
					g := &keygate.Generation{
						ID: fmt.Sprintf("gen-%d", n%(workers*each-20)), KeyHash: k.Hash, UserID: u.ID, WorkspaceID: ws.ID,
						Model: []string{"m/one", "m/two"}[n%2], Provider: "p", PromptTokens: int64(n), CompletionTokens: int64(2 * n),
						ReasoningTokens: int64(n % 7), Cost: keygate.Micros(n * 3), BYOK: n%5 == 0,
						CreatedAt: midnight.Add(time.Duration(n-workers*each/2) * time.Second),
					}
					if n%4 != 0 {
						g.AppID = &apps[n%2].ID
					}
					c := &keygate.Charge{Generation: g}
					c.AppDay, c.UserDay = keygate.RollupsOf(g)
					ok, _, err := s.RecordGeneration(t.Context(), c)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						charged = append(charged, g)
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(charged) != workers*each-20 {
			t.Fatalf("%d generations charged, want %d (one per id)", len(charged), workers*each-20)
		}
		from, to := midnight.AddDate(0, 0, -1), midnight.AddDate(0, 0, 1)
		wantApps := map[int64]map[keygate.AppDay]keygate.AppDay{}
		wantUsers := map[string]map[keygate.UserDay]keygate.UserDay{}
		totals := map[int64][2]int64{}
		for _, g := range charged {
			a, ud := keygate.RollupsOf(g)
			if a != nil {
				ref := keygate.AppDay{AppID: a.AppID, Day: a.Day, Model: a.Model}
				if wantApps[a.AppID] == nil {
					wantApps[a.AppID] = map[keygate.AppDay]keygate.AppDay{}
				}
				sum, ok := wantApps[a.AppID][ref]
				if !ok {
					sum = ref
				}
				sum.Add(a)
				wantApps[a.AppID][ref] = sum
				tt := totals[a.AppID]
				totals[a.AppID] = [2]int64{tt[0] + 1, tt[1] + g.PromptTokens + g.CompletionTokens}
			}
			ref := keygate.UserDay{UserID: ud.UserID, Day: ud.Day, WorkspaceID: ud.WorkspaceID, KeyHash: ud.KeyHash, Model: ud.Model, Provider: ud.Provider}
			if wantUsers[ud.UserID] == nil {
				wantUsers[ud.UserID] = map[keygate.UserDay]keygate.UserDay{}
			}
			sum, ok := wantUsers[ud.UserID][ref]
			if !ok {
				sum = ref
			}
			sum.Add(ud)
			wantUsers[ud.UserID][ref] = sum
		}
		for _, app := range apps {
			got, err := s.AppDays(t.Context(), app.ID, from, to)
			must(t, "AppDays", err)
			diff(t, fmt.Sprintf("AppDays(%d)", app.ID), sortedValues(wantApps[app.ID], cmpAppDay), sortApp(got))
			for _, d := range got {
				wantUTC(t, "AppDays", &d.Day)
			}
		}
		for _, u := range []*keygate.User{u1, u2} {
			got, err := s.UserDays(t.Context(), u.ID, from, to)
			must(t, "UserDays", err)
			diff(t, "UserDays", sortedValues(wantUsers[u.ID], cmpUserDay), sortUser(got))
		}
		got, err := s.AppTotals(t.Context(), from, to)
		must(t, "AppTotals", err)
		if len(got) != len(apps) {
			t.Fatalf("AppTotals gave %d apps, want %d", len(got), len(apps))
		}
		for _, tot := range got {
			if w := totals[tot.App.ID]; tot.Requests != w[0] || tot.Tokens != w[1] {
				t.Errorf("AppTotals(%d) = %d requests, %d tokens, want %d, %d", tot.App.ID, tot.Requests, tot.Tokens, w[0], w[1])
			}
		}
		// A range holds the days from its start, not its end: the day
		// after midnight alone.
		got, err = s.AppTotals(t.Context(), midnight, to)
		must(t, "AppTotals(day)", err)
		for _, tot := range got {
			var want int64
			for ref, d := range wantApps[tot.App.ID] {
				if ref.Day.Equal(midnight) {
					want += d.Requests
				}
			}
			if tot.Requests != want {
				t.Errorf("AppTotals(%d) on the day after midnight = %d requests, want %d", tot.App.ID, tot.Requests, want)
			}
		}
	}},
	{"Hidden", func(t *testing.T, s keygate.Store) {
		app := newApp(t, s, "https://hide.example")
		got, err := s.SetAppHidden(t.Context(), app.ID, true)
		must(t, "SetAppHidden", err)
		if !got.Hidden {
			t.Error("SetAppHidden(true) returned an app not hidden")
		}
		read, err := s.App(t.Context(), app.ID)
		must(t, "App", err)
		if !read.Hidden {
			t.Error("App after SetAppHidden(true): not hidden")
		}
		// An upsert by the app's own requests does not show it again.
		up, err := s.UpsertApp(t.Context(), &keygate.App{URL: app.URL, Title: "New title", CreatedAt: t0})
		must(t, "UpsertApp", err)
		if !up.Hidden || up.Title != "New title" {
			t.Errorf("UpsertApp of a hidden app = hidden %v title %q, want true, New title", up.Hidden, up.Title)
		}
		got, err = s.SetAppHidden(t.Context(), app.ID, false)
		must(t, "SetAppHidden", err)
		if got.Hidden {
			t.Error("SetAppHidden(false) returned a hidden app")
		}
		_, err = s.SetAppHidden(t.Context(), app.ID+1000, true)
		wantErr(t, "SetAppHidden(unknown)", err, keygate.ErrNotFound)
	}},
	{"CreditGrants", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		other, _ := newUser(t, s)
		gs, err := s.CreditGrants(t.Context(), u.ID)
		must(t, "CreditGrants", err)
		if len(gs) != 0 {
			t.Fatalf("CreditGrants of a new user = %d grants, want 0", len(gs))
		}
		var want []*keygate.CreditGrant
		for i, amount := range []keygate.Micros{5_000_000, 0, 1} {
			g := &keygate.CreditGrant{UserID: u.ID, Amount: amount, Note: fmt.Sprintf("grant %d", i), CreatedAt: at(time.Duration(i) * time.Minute)}
			must(t, "AddCreditGrant", s.AddCreditGrant(t.Context(), g))
			if g.ID == 0 {
				t.Fatal("AddCreditGrant set no ID")
			}
			want = append(want, g)
		}
		must(t, "AddCreditGrant", s.AddCreditGrant(t.Context(), &keygate.CreditGrant{UserID: other.ID, Amount: 7, CreatedAt: t0}))
		gs, err = s.CreditGrants(t.Context(), u.ID)
		must(t, "CreditGrants", err)
		diff(t, "CreditGrants", want, gs)
		for _, g := range gs {
			wantUTC(t, "CreditGrants", &g.CreatedAt)
		}
		err = s.AddCreditGrant(t.Context(), &keygate.CreditGrant{UserID: newID(), Amount: 1, CreatedAt: t0})
		wantErr(t, "AddCreditGrant(unknown user)", err, keygate.ErrNotFound)
	}},
}

func cmpAppDay(a, b keygate.AppDay) int {
	return cmp.Or(cmp.Compare(a.AppID, b.AppID), a.Day.Compare(b.Day), cmp.Compare(a.Model, b.Model))
}

func cmpUserDay(a, b keygate.UserDay) int {
	return cmp.Or(cmp.Compare(a.UserID, b.UserID), a.Day.Compare(b.Day), cmp.Compare(a.WorkspaceID, b.WorkspaceID),
		cmp.Compare(a.KeyHash, b.KeyHash), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Provider, b.Provider))
}

func sortedValues[K comparable, V any](m map[K]V, f func(a, b V) int) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, f)
	return out
}

func sortApp(d []keygate.AppDay) []keygate.AppDay    { slices.SortFunc(d, cmpAppDay); return d }
func sortUser(d []keygate.UserDay) []keygate.UserDay { slices.SortFunc(d, cmpUserDay); return d }
