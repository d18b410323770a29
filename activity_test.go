package keygate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// activityRows renders rows as "date model provider workspace requests
// prompt completion reasoning usage byok".
func activityRows(rows []keygate.Activity, wsName map[string]string) string {
	var out []string
	for _, a := range rows {
		out = append(out, fmt.Sprintf("%s %s %s %s %d %d %d %d %d %d", a.Date.Format(time.DateOnly), a.Model, a.Provider,
			wsName[a.WorkspaceID], a.Requests, a.PromptTokens, a.CompletionTokens, a.ReasoningTokens, a.Usage, a.BYOKUsage))
	}
	return strings.Join(out, "; ")
}

func TestUserActivity(t *testing.T) {
	f := newFixture(t) // now: 2026-03-04 12:00 UTC
	ws, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Team"})
	if err != nil {
		t.Fatal(err)
	}
	def, err := f.store.DefaultWorkspace(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"": "-", ws.ID: "team", def.ID: "default"}
	_, k1 := f.newKey(keygate.NewKeyParams{})
	_, k2 := f.newKey(keygate.NewKeyParams{WorkspaceID: &ws.ID})
	other := f.newUser("bob@example.com")
	_, ko := f.newKey(keygate.NewKeyParams{UserID: other.ID})
	n := 0
	gen := func(k *keygate.APIKey, day, model string, prompt, completion, reasoning int64, cost keygate.Micros, byok bool) {
		t.Helper()
		d, _ := time.Parse(time.DateOnly, day)
		n++
		g := &keygate.Generation{ID: fmt.Sprintf("gen-%d", n), KeyHash: k.Hash, Model: model, Provider: "acme",
			PromptTokens: prompt, CompletionTokens: completion, ReasoningTokens: reasoning, Cost: cost, BYOK: byok,
			CreatedAt: d.Add(time.Hour)}
		if err := f.svc.Settle(f.ctx, nil, g); err != nil {
			t.Fatal(err)
		}
	}
	gen(k1, "2026-03-03", "m/a", 10, 20, 1, 100, false)
	gen(k2, "2026-03-03", "m/a", 1, 2, 0, 5, false)
	gen(k2, "2026-03-03", "m/a", 1, 2, 0, 7, true)
	gen(k1, "2026-03-03", "m/b", 3, 4, 0, 9, false)
	gen(k1, "2026-02-02", "m/a", 1, 1, 0, 1, false)    // the first of the 30 days
	gen(k1, "2026-02-01", "m/a", 50, 50, 0, 50, false) // 31 days ago: out
	gen(k1, "2026-03-04", "m/a", 60, 60, 0, 60, false) // today: not complete
	gen(ko, "2026-03-03", "m/a", 70, 70, 0, 70, false) // another user's
	byWorkspace := "2026-03-03 m/a acme default 1 10 20 1 100 0; 2026-03-03 m/a acme team 2 2 4 0 5 7; 2026-03-03 m/b acme default 1 3 4 0 9 0"
	if ws.ID < def.ID {
		byWorkspace = "2026-03-03 m/a acme team 2 2 4 0 5 7; 2026-03-03 m/a acme default 1 10 20 1 100 0; 2026-03-03 m/b acme default 1 3 4 0 9 0"
	}
	tests := []struct {
		name string
		q    keygate.ActivityQuery
		want string
	}{
		{"all", keygate.ActivityQuery{}, "2026-02-02 m/a acme - 1 1 1 0 1 0; 2026-03-03 m/a acme - 3 12 24 1 105 7; 2026-03-03 m/b acme - 1 3 4 0 9 0"},
		{"date", keygate.ActivityQuery{Date: "2026-02-02"}, "2026-02-02 m/a acme - 1 1 1 0 1 0"},
		{"key", keygate.ActivityQuery{APIKeyHash: k2.Hash}, "2026-03-03 m/a acme - 2 2 4 0 5 7"},
		{"unknown-key", keygate.ActivityQuery{APIKeyHash: "00"}, ""},
		// Rows of one day and model are in the order of their workspace ids.
		{"by-workspace", keygate.ActivityQuery{GroupBy: "workspace", Date: "2026-03-03"}, byWorkspace},
		{"workspace", keygate.ActivityQuery{WorkspaceID: strings.ToUpper(ws.ID)}, "2026-03-03 m/a acme - 2 2 4 0 5 7"},
		{"own-user-id", keygate.ActivityQuery{UserID: f.user.ID, Date: "2026-02-02"}, "2026-02-02 m/a acme - 1 1 1 0 1 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := f.svc.UserActivity(f.ctx, f.user.ID, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := activityRows(rows, names); got != tt.want {
				t.Errorf("rows:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		q     keygate.ActivityQuery
		field string
	}{
		{keygate.ActivityQuery{Date: "2026-02-01"}, "date"},
		{keygate.ActivityQuery{Date: "2026-03-04"}, "date"},
		{keygate.ActivityQuery{Date: "03/03/2026"}, "date"},
		{keygate.ActivityQuery{GroupBy: "model"}, "group_by"},
		{keygate.ActivityQuery{UserID: other.ID}, "user_id"},
		{keygate.ActivityQuery{WorkspaceID: "not-a-uuid"}, "workspace_id"},
		{keygate.ActivityQuery{WorkspaceID: ko.WorkspaceID}, "workspace_id"},
	} {
		_, err := f.svc.UserActivity(f.ctx, f.user.ID, tt.q)
		if keygate.ErrorCode(err) != keygate.EINVALID || !strings.HasPrefix(keygate.ErrorMessage(err), tt.field) {
			t.Errorf("UserActivity(%+v) = %v, want EINVALID naming %s", tt.q, err, tt.field)
		}
	}
}
