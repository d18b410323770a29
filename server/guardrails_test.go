package server_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate"
)

// guardrailFieldTypes is every member of a guardrail object, with its JSON
// type for the guardrail TestGuardrailsHTTP creates.
var guardrailFieldTypes = map[string]string{
	"id": "string", "workspace_id": "string", "name": "string", "description": "string",
	"allowed_models": "array", "ignored_models": "null", "allowed_providers": "null", "ignored_providers": "array",
	"allowed_data_regions": "array", "limit_usd": "number", "reset_interval": "string", "include_byok_in_budgets": "bool",
	"content_filters": "array", "content_filter_builtins": "null", "enable_free_model_publication": "null",
	"enable_free_model_training": "bool", "enable_paid_model_training": "null", "enforce_zdr": "bool",
	"enforce_zdr_anthropic": "null", "enforce_zdr_google": "null", "enforce_zdr_openai": "null",
	"enforce_zdr_other": "null", "enforce_zdr_xai": "null", "created_at": "string", "updated_at": "null",
}

func (e *env) createGuardrail(body map[string]any) map[string]any {
	e.t.Helper()
	r := e.mgmt("POST", "/api/v1/guardrails", body)
	if r.status != 201 {
		e.t.Fatalf("POST /api/v1/guardrails: %d %s", r.status, r.body)
	}
	return r.json(e.t)["data"].(map[string]any)
}

func TestGuardrailsPermissions(t *testing.T) {
	e := newEnv(t)
	g := e.createGuardrail(map[string]any{"name": "Target", "allowed_models": []string{"a/b"}})
	id := g["id"].(string)
	hash := keygate.HashSecret(e.userKey)
	routes := []route{
		{"list", "GET", "/api/v1/guardrails", nil},
		{"create", "POST", "/api/v1/guardrails", map[string]any{"name": "New"}},
		{"all-assignments", "GET", "/api/v1/guardrails/assignments/keys", nil},
		{"get", "GET", "/api/v1/guardrails/" + id, nil},
		{"update", "PATCH", "/api/v1/guardrails/" + id, map[string]any{"name": "Stolen"}},
		{"assignments", "GET", "/api/v1/guardrails/" + id + "/assignments/keys", nil},
		{"assign", "POST", "/api/v1/guardrails/" + id + "/assignments/keys", map[string]any{"key_hashes": []string{hash}}},
		{"unassign", "POST", "/api/v1/guardrails/" + id + "/assignments/keys/remove", map[string]any{"key_hashes": []string{hash}}},
		{"delete", "DELETE", "/api/v1/guardrails/" + id, nil},
	}
	malloryMgmt := e.checkManagementOnly(t, routes)
	t.Run("other-users-management-key", func(t *testing.T) {
		for _, rt := range routes[3:] {
			r := e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+malloryMgmt)
			if r.status != 404 || r.errMessage(t) != "Guardrail not found" {
				t.Errorf("%s %s with another user's management key: %d %s, want 404", rt.method, rt.path, r.status, r.body)
			}
		}
		for _, rt := range routes[:3:3] {
			if rt.method != "GET" {
				continue
			}
			r := e.do(rt.method, rt.path, nil, "Authorization", "Bearer "+malloryMgmt)
			if r.status != 200 || strings.Contains(string(r.body), id) {
				t.Errorf("another user's %s: %d %s", rt.path, r.status, r.body)
			}
		}
		// Another user's key cannot be assigned to one's own guardrail.
		mine := e.createGuardrail(map[string]any{"name": "Mine"})
		r := e.mgmt("POST", "/api/v1/guardrails/"+mine["id"].(string)+"/assignments/keys",
			map[string]any{"key_hashes": []string{keygate.HashSecret(malloryMgmt)}})
		if r.status != 400 || r.errMessage(t) != "key_hashes[0] is not one of your keys" {
			t.Errorf("assigning another user's key: %d %s", r.status, r.body)
		}
	})
	r := e.mgmt("GET", "/api/v1/guardrails/"+id, nil)
	if r.status != 200 || r.json(t)["data"].(map[string]any)["name"] != "Target" {
		t.Errorf("guardrail after refused attempts: %d %s", r.status, r.body)
	}
}

func TestGuardrailsHTTP(t *testing.T) {
	e := newEnv(t)
	g := e.createGuardrail(map[string]any{
		"name": "Production", "description": "prod", "allowed_models": []string{"t/cheap", "t/cheap", "t/other"},
		"ignored_providers": []string{"slow"}, "allowed_data_regions": []string{"europe"},
		"limit_usd": 25.5, "reset_interval": "monthly", "include_byok_in_budgets": true,
		"content_filters":            []map[string]any{{"action": "block", "pattern": `\d{16}`}},
		"enable_free_model_training": false, "enforce_zdr": true,
	})
	for field, want := range guardrailFieldTypes {
		if got := jsonType(g[field]); got != want {
			t.Errorf("data.%s = %v (%s), want %s", field, g[field], got, want)
		}
	}
	if len(g["allowed_models"].([]any)) != 2 || g["limit_usd"] != 25.5 {
		t.Errorf("created %v", g)
	}
	id := g["id"].(string)
	r := e.mgmt("PATCH", "/api/v1/guardrails/"+id, map[string]any{"allowed_models": nil, "limit_usd": nil, "name": "Renamed"})
	if r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	up := r.json(t)["data"].(map[string]any)
	if up["allowed_models"] != nil || up["limit_usd"] != nil || up["name"] != "Renamed" || up["reset_interval"] != "monthly" || up["updated_at"] == nil {
		t.Errorf("PATCH = %s", r.body)
	}
	for _, tt := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": nil}, "name"},
		{map[string]any{"include_byok_in_budgets": nil}, "include_byok_in_budgets"},
		{map[string]any{"workspace_id": "x"}, "workspace_id"},
		{map[string]any{"reset_interval": "yearly"}, "reset_interval"},
	} {
		if r := e.mgmt("PATCH", "/api/v1/guardrails/"+id, tt.body); r.status != 400 || !strings.Contains(r.errMessage(t), tt.field) {
			t.Errorf("PATCH %v: %d %s, want 400 naming %s", tt.body, r.status, r.body, tt.field)
		}
	}

	hash := keygate.HashSecret(e.userKey)
	r = e.mgmt("POST", "/api/v1/guardrails/"+id+"/assignments/keys", map[string]any{"key_hashes": []string{hash, hash}})
	if r.status != 200 || string(r.body) != `{"assigned_count":1}` {
		t.Errorf("assign: %d %s", r.status, r.body)
	}
	r = e.mgmt("GET", "/api/v1/guardrails/"+id+"/assignments/keys", nil)
	m := r.json(t)
	data := m["data"].([]any)
	if r.status != 200 || m["total_count"] != 1.0 || len(data) != 1 {
		t.Fatalf("assignments: %d %s", r.status, r.body)
	}
	a := data[0].(map[string]any)
	for field, want := range map[string]string{"id": "string", "guardrail_id": "string", "key_hash": "string",
		"key_name": "string", "key_label": "string", "assigned_by": "string", "created_at": "string"} {
		if got := jsonType(a[field]); got != want {
			t.Errorf("assignment.%s = %v (%s), want %s", field, a[field], got, want)
		}
	}
	if a["key_hash"] != hash || a["guardrail_id"] != id {
		t.Errorf("assignment = %v", a)
	}
	if r := e.mgmt("GET", "/api/v1/guardrails/assignments/keys?limit=1", nil); r.status != 200 || r.json(t)["total_count"] != 1.0 {
		t.Errorf("all assignments: %d %s", r.status, r.body)
	}
	r = e.mgmt("POST", "/api/v1/guardrails/"+id+"/assignments/keys/remove", map[string]any{"key_hashes": []string{hash}})
	if r.status != 200 || string(r.body) != `{"unassigned_count":1}` {
		t.Errorf("unassign: %d %s", r.status, r.body)
	}
	r = e.mgmt("GET", "/api/v1/guardrails?limit=10", nil)
	if r.status != 200 || r.json(t)["total_count"] != 1.0 {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	// keygate has no workspace members: their assignment routes are not served.
	for _, path := range []string{"/api/v1/guardrails/" + id + "/assignments/members", "/api/v1/guardrails/assignments/members"} {
		if r := e.mgmt("GET", path, nil); r.status != 404 {
			t.Errorf("GET %s: %d %s, want 404", path, r.status, r.body)
		}
	}
	if r := e.mgmt("DELETE", "/api/v1/guardrails/"+id, nil); r.status != 200 || string(r.body) != `{"deleted":true}` {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	if r := e.mgmt("GET", "/api/v1/guardrails/"+id, nil); r.status != 404 {
		t.Errorf("GET deleted: %d %s", r.status, r.body)
	}
}
