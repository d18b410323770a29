package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// workspaceFieldTypes is every member of a workspace object that the
// official SDK requires, with its JSON type for a workspace without a
// description that was never updated.
var workspaceFieldTypes = map[string]string{
	"id": "string", "name": "string", "slug": "string", "description": "null",
	"created_at": "string", "created_by": "string", "updated_at": "null",
	"default_guardrail_id": "string", "default_image_model": "null", "default_provider_sort": "null",
	"default_text_model": "null", "disabled_server_tools": "array", "include_byok_in_budgets": "bool",
	"io_logging_api_key_ids": "null", "io_logging_sampling_rate": "number",
	"is_data_discount_logging_enabled": "bool", "is_observability_broadcast_enabled": "bool",
	"is_observability_io_logging_enabled": "bool",
}

func checkWorkspaceShape(t *testing.T, d map[string]any, over map[string]string) {
	t.Helper()
	for field, want := range workspaceFieldTypes {
		if o, ok := over[field]; ok {
			want = o
		}
		v, present := d[field]
		if !present {
			t.Errorf("data.%s missing", field)
			continue
		}
		if got := jsonType(v); got != want {
			t.Errorf("data.%s = %v (%s), want %s", field, v, got, want)
		}
	}
}

// createWorkspace creates a workspace through the API and returns its data.
func (e *env) createWorkspace(body map[string]any) map[string]any {
	e.t.Helper()
	r := e.mgmt("POST", "/api/v1/workspaces", body)
	if r.status != 201 {
		e.t.Fatalf("POST /api/v1/workspaces: %d %s", r.status, r.body)
	}
	return r.json(e.t)["data"].(map[string]any)
}

func TestWorkspacesPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws := e.createWorkspace(map[string]any{"name": "Target"})
	id := ws["id"].(string)
	expiresAt := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	expiring, _, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "expiring", IsManagement: true, ExpiresAt: &expiresAt})
	if err != nil {
		t.Fatal(err)
	}
	disabled, dk, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "disabled", IsManagement: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetKeyDisabled(ctx, e.user.ID, dk.Hash, true); err != nil {
		t.Fatal(err)
	}
	_, malloryMgmt := e.newUser("mallory@example.com", true)
	e.clock.Advance(2 * time.Hour)

	routes := []struct {
		name, method, path string
		body               any
	}{
		{"list", "GET", "/api/v1/workspaces", nil},
		{"create", "POST", "/api/v1/workspaces", map[string]any{"name": "New"}},
		{"get", "GET", "/api/v1/workspaces/" + id, nil},
		{"update", "PATCH", "/api/v1/workspaces/" + id, map[string]any{"name": "Stolen"}},
		{"delete", "DELETE", "/api/v1/workspaces/" + id, nil},
	}
	auths := []struct {
		name, header string
		status       int
		msg          string
	}{
		{"no-key", "", 401, "Missing Authentication header"},
		{"unknown-key", "Bearer sk-kg-v1-" + strings.Repeat("0", 64), 401, ""},
		{"ordinary-key", "Bearer " + e.userKey, 403, keygate.MsgManagement},
		{"disabled-management-key", "Bearer " + disabled, 401, "disabled"},
		{"expired-management-key", "Bearer " + expiring, 401, "expired"},
	}
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.name+"-"+a.name, func(t *testing.T) {
				var h []string
				if a.header != "" {
					h = []string{"Authorization", a.header}
				}
				r := e.do(rt.method, rt.path, rt.body, h...)
				if r.status != a.status {
					t.Fatalf("status %d %s, want %d", r.status, r.body, a.status)
				}
				if msg := r.errMessage(t); !strings.Contains(msg, a.msg) {
					t.Errorf("message %q, want it to contain %q", msg, a.msg)
				}
			})
		}
	}
	t.Run("other-users-management-key", func(t *testing.T) {
		for _, rt := range routes[2:] {
			for _, ref := range []string{id, "target"} {
				path := strings.Replace(rt.path, id, ref, 1)
				if r := e.do(rt.method, path, rt.body, "Authorization", "Bearer "+malloryMgmt); r.status != 404 {
					t.Errorf("%s %s with another user's management key: %d %s, want 404", rt.method, path, r.status, r.body)
				}
			}
		}
		r := e.do("GET", "/api/v1/workspaces", nil, "Authorization", "Bearer "+malloryMgmt)
		if r.status != 200 || strings.Contains(string(r.body), id) {
			t.Errorf("another user's list: %d %s", r.status, r.body)
		}
	})
	got, err := e.store.Workspace(ctx, id)
	if err != nil || got.Name != "Target" {
		t.Errorf("workspace after refused attempts: %+v, %v", got, err)
	}
}

func TestListWorkspacesHTTP(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"B", "C"} {
		e.clock.Advance(time.Second) // oldest first needs distinct times
		e.createWorkspace(map[string]any{"name": n})
	}
	tests := []struct {
		name, query string
		status      int
		want        string // slugs in order
		field       string
	}{
		{"default-page", "", 200, "default,b,c", ""},
		{"limit", "?limit=2", 200, "default,b", ""},
		{"offset", "?offset=1", 200, "b,c", ""},
		{"offset-and-limit", "?offset=1&limit=1", 200, "b", ""},
		{"limit-100", "?limit=100", 200, "default,b,c", ""},
		{"past-end", "?offset=3", 200, "", ""},
		{"limit-0", "?limit=0", 400, "", "limit"},
		{"limit-101", "?limit=101", 400, "", "limit"},
		{"limit-negative", "?limit=-1", 400, "", "limit"},
		{"limit-text", "?limit=all", 400, "", "limit"},
		{"offset-negative", "?offset=-1", 400, "", "offset"},
		{"offset-text", "?offset=x", 400, "", "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mgmt("GET", "/api/v1/workspaces"+tt.query, nil)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				return
			}
			m := r.json(t)
			if m["total_count"] != 3.0 {
				t.Errorf("total_count = %v, want 3", m["total_count"])
			}
			data, ok := m["data"].([]any)
			if !ok {
				t.Fatalf("data = %s, want an array", r.body)
			}
			var slugs []string
			for _, v := range data {
				d := v.(map[string]any)
				checkWorkspaceShape(t, d, nil)
				slugs = append(slugs, d["slug"].(string))
			}
			if got := strings.Join(slugs, ","); got != tt.want {
				t.Errorf("slugs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCreateWorkspaceHTTP(t *testing.T) {
	tests := []struct {
		name     string
		body     any
		status   int
		field    string
		wantSlug string
	}{
		{"name-only", map[string]any{"name": "Staging Area"}, 201, "", "staging-area"},
		{"with-slug", map[string]any{"name": "Prod", "slug": "prod-eu"}, 201, "", "prod-eu"},
		{"slug-null", `{"name":"Prod","slug":null}`, 201, "", "prod"},
		{"with-description", map[string]any{"name": "Docs", "description": "for docs"}, 201, "", "docs"},
		{"openrouter-only-fields-ignored", map[string]any{"name": "Models", "default_text_model": "openai/gpt-4o", "io_logging_sampling_rate": 0.5}, 201, "", "models"},
		{"name-missing", map[string]any{"slug": "x"}, 400, "name", ""},
		{"name-empty", map[string]any{"name": ""}, 400, "name", ""},
		{"name-101", map[string]any{"name": strings.Repeat("n", 101)}, 400, "name", ""},
		{"name-number", `{"name":1}`, 400, "name", ""},
		{"slug-empty", map[string]any{"name": "x", "slug": ""}, 400, "slug", ""},
		{"slug-upper", map[string]any{"name": "x", "slug": "Prod"}, 400, "slug", ""},
		{"slug-double-hyphen", map[string]any{"name": "x", "slug": "a--b"}, 400, "slug", ""},
		{"slug-51", map[string]any{"name": "x", "slug": strings.Repeat("s", 51)}, 400, "slug", ""},
		{"slug-uuid", map[string]any{"name": "x", "slug": VUUID}, 400, "slug", ""},
		{"slug-taken", map[string]any{"name": "x", "slug": "default"}, 409, "slug", ""},
		{"derived-slug-taken", map[string]any{"name": "Default"}, 409, "slug", ""},
		{"description-501", map[string]any{"name": "x", "description": strings.Repeat("d", 501)}, 400, "description", ""},
		{"description-number", `{"name":"x","description":5}`, 400, "description", ""},
		{"malformed", `{"name":`, 400, "JSON", ""},
		{"empty-body", ``, 400, "JSON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.mgmt("POST", "/api/v1/workspaces", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 201 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				_, total, err := e.store.ListWorkspaces(context.Background(), e.user.ID, 0, 0)
				if err != nil || total != 1 {
					t.Errorf("a refused create left %d workspaces (%v), want 1", total, err)
				}
				return
			}
			d := r.json(t)["data"].(map[string]any)
			over := map[string]string{}
			if d["description"] != nil {
				over["description"] = "string"
			}
			checkWorkspaceShape(t, d, over)
			if d["slug"] != tt.wantSlug || d["created_by"] != e.user.ID {
				t.Errorf("slug, created_by = %v, %v; want %s, %s", d["slug"], d["created_by"], tt.wantSlug, e.user.ID)
			}
			w, err := e.store.Workspace(context.Background(), d["id"].(string))
			if err != nil || w.UserID != e.user.ID || w.Slug != tt.wantSlug || w.IsDefault {
				t.Errorf("stored %+v, %v", w, err)
			}
		})
	}
}

func TestGetWorkspaceHTTP(t *testing.T) {
	e := newEnv(t)
	d := e.createWorkspace(map[string]any{"name": "Prod", "description": "live"})
	id := d["id"].(string)
	tests := []struct {
		name, ref string
		status    int
	}{
		{"by-id", id, 200},
		{"by-slug", "prod", 200},
		{"by-upper-case-id", strings.ToUpper(id), 200},
		{"unknown-id", VUUID, 404},
		{"unknown-slug", "nope", 404},
		{"not-a-slug", "Prod%20X", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mgmt("GET", "/api/v1/workspaces/"+tt.ref, nil)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				r.errMessage(t)
				return
			}
			got := r.json(t)["data"].(map[string]any)
			checkWorkspaceShape(t, got, map[string]string{"description": "string"})
			for _, f := range []string{"id", "name", "slug", "description", "created_at", "default_guardrail_id"} {
				if got[f] != d[f] {
					t.Errorf("data.%s = %v, POST said %v", f, got[f], d[f])
				}
			}
		})
	}
	// default_guardrail_id is a UUID derived from the workspace id: stable,
	// and different for another workspace.
	other := e.createWorkspace(map[string]any{"name": "Other"})
	if d["default_guardrail_id"] == other["default_guardrail_id"] || len(d["default_guardrail_id"].(string)) != 36 {
		t.Errorf("default_guardrail_id %v and %v, want two distinct UUIDs", d["default_guardrail_id"], other["default_guardrail_id"])
	}
}

func TestUpdateWorkspaceHTTP(t *testing.T) {
	tests := []struct {
		name   string
		patch  any
		status int
		field  string
		want   map[string]any
	}{
		{"name", map[string]any{"name": "Renamed"}, 200, "", map[string]any{"name": "Renamed", "slug": "prod", "description": "old"}},
		{"slug", map[string]any{"slug": "live"}, 200, "", map[string]any{"name": "Prod", "slug": "live"}},
		{"description", map[string]any{"description": "new"}, 200, "", map[string]any{"description": "new"}},
		{"description-null-removes", `{"description":null}`, 200, "", map[string]any{"description": nil}},
		{"empty-object", `{}`, 200, "", map[string]any{"name": "Prod", "updated_at": nil}},
		{"name-null", `{"name":null}`, 400, "name", nil},
		{"name-empty", map[string]any{"name": ""}, 400, "name", nil},
		{"slug-null", `{"slug":null}`, 400, "slug", nil},
		{"slug-bad", map[string]any{"slug": "Live"}, 400, "slug", nil},
		{"slug-taken", map[string]any{"slug": "default"}, 409, "slug", nil},
		{"description-501", map[string]any{"description": strings.Repeat("d", 501)}, 400, "description", nil},
		{"malformed", `{`, 400, "JSON", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			d := e.createWorkspace(map[string]any{"name": "Prod", "description": "old"})
			e.clock.Advance(time.Minute)
			r := e.mgmt("PATCH", "/api/v1/workspaces/"+d["id"].(string), tt.patch)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				w, err := e.store.Workspace(context.Background(), d["id"].(string))
				if err != nil || w.Name != "Prod" || w.Slug != "prod" || w.UpdatedAt != nil {
					t.Errorf("a refused PATCH changed the workspace: %+v, %v", w, err)
				}
				return
			}
			got := r.json(t)["data"].(map[string]any)
			for f, v := range tt.want {
				if got[f] != v {
					t.Errorf("data.%s = %v, want %v", f, got[f], v)
				}
			}
			if _, ok := tt.want["updated_at"]; !ok && got["updated_at"] != "2026-03-04T12:01:00.000Z" {
				t.Errorf("updated_at = %v, want the time of the PATCH", got["updated_at"])
			}
			again := e.mgmt("GET", "/api/v1/workspaces/"+d["id"].(string), nil).json(t)["data"].(map[string]any)
			for f := range workspaceFieldTypes {
				if jsonType(again[f]) != jsonType(got[f]) || (jsonType(got[f]) == "string" && again[f] != got[f]) {
					t.Errorf("GET after PATCH: %s = %v, PATCH said %v", f, again[f], got[f])
				}
			}
		})
	}
}

func TestDeleteWorkspaceHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	def, err := e.store.DefaultWorkspace(ctx, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	full := e.createWorkspace(map[string]any{"name": "Full"})["id"].(string)
	_, k := e.createKey(map[string]any{"name": "k", "workspace_id": full})
	empty := e.createWorkspace(map[string]any{"name": "Empty"})["id"].(string)
	bySlug := e.createWorkspace(map[string]any{"name": "By Slug"})["id"].(string)

	steps := []struct {
		name, ref string
		status    int
	}{
		{"default", def.ID, 403},
		{"default-by-slug", "default", 403},
		{"holds-keys", full, 409},
		{"empty", empty, 200},
		{"again", empty, 404},
		{"by-slug", "by-slug", 200},
		{"unknown", VUUID, 404},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.mgmt("DELETE", "/api/v1/workspaces/"+s.ref, nil)
			if r.status != s.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, s.status)
			}
			if s.status == 200 {
				if string(r.body) != `{"deleted":true}` {
					t.Errorf("body %s, want {\"deleted\":true}", r.body)
				}
				return
			}
			r.errMessage(t)
		})
	}
	if _, err := e.store.Workspace(ctx, bySlug); err == nil {
		t.Error("the workspace deleted by slug is still stored")
	}
	// Once its key is gone, the full workspace can go too; a code or key
	// naming it afterwards is refused.
	if r := e.mgmt("DELETE", "/api/v1/keys/"+k["hash"].(string), nil); r.status != 200 {
		t.Fatalf("delete key: %d", r.status)
	}
	if r := e.mgmt("DELETE", "/api/v1/workspaces/"+full, nil); r.status != 200 {
		t.Fatalf("delete emptied workspace: %d %s", r.status, r.body)
	}
	if r := e.mgmt("POST", "/api/v1/keys", map[string]any{"name": "late", "workspace_id": full}); r.status != 400 {
		t.Errorf("POST /keys into a deleted workspace: %d, want 400", r.status)
	}
	if r := e.do("POST", "/api/v1/auth/keys/code", s256Body("workspace_id", full), "Authorization", "Bearer "+e.userKey); r.status != 400 {
		t.Errorf("POST /auth/keys/code into a deleted workspace: %d, want 400", r.status)
	}
}

// TestKeysInWorkspaces: workspace_id on POST /api/v1/keys and on a code
// places the key there, and the list filter finds it there only.
func TestKeysInWorkspaces(t *testing.T) {
	e := newEnv(t)
	ws := e.createWorkspace(map[string]any{"name": "Team"})["id"].(string)
	_, d := e.createKey(map[string]any{"name": "direct", "workspace_id": ws})
	c := e.code(s256Body("workspace_id", ws, "key_label", "via code"))
	minted := e.exchange(map[string]any{"code": c, "code_verifier": V1}).json(t)["key"].(string)
	me := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+minted).json(t)["data"].(map[string]any)
	if me["workspace_id"] != ws || d["workspace_id"] != ws {
		t.Fatalf("workspace_id: via code %v, direct %v; want %s", me["workspace_id"], d["workspace_id"], ws)
	}
	names := func(q string) string {
		var n []string
		for _, v := range e.mgmt("GET", "/api/v1/keys"+q, nil).json(t)["data"].([]any) {
			n = append(n, v.(map[string]any)["name"].(string))
		}
		return strings.Join(n, ",")
	}
	if got := names("?workspace_id=" + ws); got != "via code,direct" && got != "direct,via code" {
		t.Errorf("keys in the team workspace: %q", got)
	}
	if got := names(""); strings.Contains(got, "direct") || strings.Contains(got, "via code") {
		t.Errorf("the default workspace lists %q", got)
	}
}
