package server_test

import (
	"strings"
	"testing"
)

func TestBudgetsPermissions(t *testing.T) {
	e := newEnv(t)
	ws := e.createWorkspace(map[string]any{"name": "Target"})
	id := ws["id"].(string)
	if r := e.mgmt("PUT", "/api/v1/workspaces/"+id+"/budgets/monthly", map[string]any{"limit_usd": 500}); r.status != 200 {
		t.Fatalf("PUT budget: %d %s", r.status, r.body)
	}
	base := "/api/v1/workspaces/" + id + "/budgets"
	routes := []route{
		{"list", "GET", base, nil},
		{"get", "GET", base + "/monthly", nil},
		{"set", "PUT", base + "/monthly", map[string]any{"limit_usd": 1}},
		{"delete", "DELETE", base + "/monthly", nil},
	}
	malloryMgmt := e.checkManagementOnly(t, routes)
	t.Run("other-users-management-key", func(t *testing.T) {
		for _, rt := range routes {
			for _, ref := range []string{id, "target"} {
				path := strings.Replace(rt.path, id, ref, 1)
				r := e.do(rt.method, path, rt.body, "Authorization", "Bearer "+malloryMgmt)
				if r.status != 404 || r.errMessage(t) != "Workspace not found" {
					t.Errorf("%s %s with another user's management key: %d %s, want 404", rt.method, path, r.status, r.body)
				}
			}
		}
	})
	r := e.mgmt("GET", base+"/monthly", nil)
	if r.status != 200 || r.json(t)["data"].(map[string]any)["limit_usd"] != 500.0 {
		t.Errorf("budget after refused attempts: %d %s", r.status, r.body)
	}
}

func TestBudgetsHTTP(t *testing.T) {
	e := newEnv(t)
	ws := e.createWorkspace(map[string]any{"name": "Team"})
	id := ws["id"].(string)
	base := "/api/v1/workspaces/team/budgets"

	r := e.mgmt("GET", base, nil)
	if r.status != 200 || string(r.body) != `{"data":[],"include_byok_in_budgets":false}` {
		t.Fatalf("empty list: %d %s", r.status, r.body)
	}
	r = e.mgmt("PUT", base+"/monthly", map[string]any{"limit_usd": 500.25})
	if r.status != 200 {
		t.Fatalf("PUT monthly: %d %s", r.status, r.body)
	}
	m := r.json(t)
	d := m["data"].(map[string]any)
	for field, want := range map[string]string{"id": "string", "workspace_id": "string", "limit_usd": "number",
		"reset_interval": "string", "created_at": "string", "updated_at": "string"} {
		if got := jsonType(d[field]); got != want {
			t.Errorf("data.%s = %v (%s), want %s", field, d[field], got, want)
		}
	}
	if d["workspace_id"] != id || d["limit_usd"] != 500.25 || d["reset_interval"] != "monthly" || m["include_byok_in_budgets"] != false {
		t.Errorf("PUT monthly = %s", r.body)
	}
	r = e.mgmt("PUT", "/api/v1/workspaces/"+id+"/budgets/lifetime", map[string]any{"limit_usd": 0, "include_byok_in_budgets": true})
	if r.status != 200 {
		t.Fatalf("PUT lifetime: %d %s", r.status, r.body)
	}
	if d := r.json(t)["data"].(map[string]any); d["reset_interval"] != nil || d["limit_usd"] != 0.0 {
		t.Errorf("PUT lifetime = %s, want reset_interval null and limit_usd 0", r.body)
	}
	r = e.mgmt("GET", base, nil)
	m = r.json(t)
	data := m["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["reset_interval"] != nil || data[1].(map[string]any)["reset_interval"] != "monthly" || m["include_byok_in_budgets"] != true {
		t.Errorf("list = %s, want lifetime then monthly, include_byok_in_budgets true", r.body)
	}
	if r := e.mgmt("DELETE", base+"/lifetime", nil); r.status != 200 || string(r.body) != `{"deleted":true}` {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	if r := e.mgmt("GET", base+"/lifetime", nil); r.status != 404 || r.errMessage(t) != "Budget not found" {
		t.Errorf("GET deleted: %d %s", r.status, r.body)
	}
	if r := e.mgmt("POST", base+"/daily", map[string]any{"limit_usd": 1}); r.status != 405 {
		t.Errorf("POST: %d %s, want 405", r.status, r.body)
	}
}
