package server_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
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
	"default_text_model": "null", "disabled_server_tools": "null", "include_byok_in_budgets": "bool",
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
	routes := []route{
		{"list", "GET", "/api/v1/workspaces", nil},
		{"create", "POST", "/api/v1/workspaces", map[string]any{"name": "New"}},
		{"get", "GET", "/api/v1/workspaces/" + id, nil},
		{"update", "PATCH", "/api/v1/workspaces/" + id, map[string]any{"name": "Stolen"}},
		{"delete", "DELETE", "/api/v1/workspaces/" + id, nil},
	}
	malloryMgmt := e.checkManagementOnly(t, routes)
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
		{"include-byok-in-budgets-not-a-request-member", map[string]any{"name": "Budgets", "include_byok_in_budgets": "anything"}, 201, "", "budgets"},
		{"sampling-rate-0", map[string]any{"name": "x", "io_logging_sampling_rate": 0}, 400, "io_logging_sampling_rate", ""},
		{"sampling-rate-negative", map[string]any{"name": "x", "io_logging_sampling_rate": -0.5}, 400, "io_logging_sampling_rate", ""},
		{"sampling-rate-below-min", map[string]any{"name": "x", "io_logging_sampling_rate": 0.00009}, 400, "io_logging_sampling_rate", ""},
		{"sampling-rate-above-1", map[string]any{"name": "x", "io_logging_sampling_rate": 1.0001}, 400, "io_logging_sampling_rate", ""},
		{"sampling-rate-string", `{"name":"x","io_logging_sampling_rate":"1"}`, 400, "io_logging_sampling_rate", ""},
		{"sampling-rate-null", `{"name":"x","io_logging_sampling_rate":null}`, 400, "io_logging_sampling_rate", ""},
		{"sampling-rate-overflow", `{"name":"x","io_logging_sampling_rate":1e309}`, 400, "io_logging_sampling_rate", ""},
		{"provider-sort-unknown", map[string]any{"name": "x", "default_provider_sort": "fastest"}, 400, "default_provider_sort", ""},
		{"provider-sort-wrong-case", map[string]any{"name": "x", "default_provider_sort": "Price"}, 400, "default_provider_sort", ""},
		{"provider-sort-number", `{"name":"x","default_provider_sort":1}`, 400, "default_provider_sort", ""},
		{"text-model-number", `{"name":"x","default_text_model":4}`, 400, "default_text_model", ""},
		{"text-model-empty", map[string]any{"name": "x", "default_text_model": ""}, 400, "default_text_model", ""},
		{"text-model-space", map[string]any{"name": "x", "default_text_model": "openai/gpt 4o"}, 400, "default_text_model", ""},
		{"text-model-201", map[string]any{"name": "x", "default_text_model": strings.Repeat("m", 201)}, 400, "default_text_model", ""},
		{"image-model-control", map[string]any{"name": "x", "default_image_model": "openai/dall-e-3\n"}, 400, "default_image_model", ""},
		{"image-model-array", `{"name":"x","default_image_model":["a"]}`, 400, "default_image_model", ""},
		{"key-ids-fraction", `{"name":"x","io_logging_api_key_ids":[1.5]}`, 400, "io_logging_api_key_ids", ""},
		{"key-ids-zero", `{"name":"x","io_logging_api_key_ids":[0]}`, 400, "io_logging_api_key_ids", ""},
		{"key-ids-negative", `{"name":"x","io_logging_api_key_ids":[3,-1]}`, 400, "io_logging_api_key_ids", ""},
		{"key-ids-past-2-53", `{"name":"x","io_logging_api_key_ids":[9007199254740992]}`, 400, "io_logging_api_key_ids", ""},
		{"key-ids-strings", `{"name":"x","io_logging_api_key_ids":["1"]}`, 400, "io_logging_api_key_ids", ""},
		{"key-ids-object", `{"name":"x","io_logging_api_key_ids":{"a":1}}`, 400, "io_logging_api_key_ids", ""},
		{"key-ids-1001", map[string]any{"name": "x", "io_logging_api_key_ids": make([]int, 1001)}, 400, "io_logging_api_key_ids", ""},
		{"data-discount-string", `{"name":"x","is_data_discount_logging_enabled":"true"}`, 400, "is_data_discount_logging_enabled", ""},
		{"data-discount-null", `{"name":"x","is_data_discount_logging_enabled":null}`, 400, "is_data_discount_logging_enabled", ""},
		{"broadcast-number", `{"name":"x","is_observability_broadcast_enabled":1}`, 400, "is_observability_broadcast_enabled", ""},
		{"io-logging-null", `{"name":"x","is_observability_io_logging_enabled":null}`, 400, "is_observability_io_logging_enabled", ""},
		{"tools-unprefixed", map[string]any{"name": "x", "disabled_server_tools": []string{"web_search"}}, 400, "disabled_server_tools", ""},
		{"tools-upper-case", map[string]any{"name": "x", "disabled_server_tools": []string{"openrouter:Web_Search"}}, 400, "disabled_server_tools", ""},
		{"tools-not-an-array", map[string]any{"name": "x", "disabled_server_tools": "openrouter:bash"}, 400, "disabled_server_tools", ""},
		{"tools-number-member", `{"name":"x","disabled_server_tools":[1]}`, 400, "disabled_server_tools", ""},
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

// allSettings sets every settings member of the request bodies away from
// its default.
var allSettings = map[string]any{
	"default_text_model":                  "openai/gpt-4o",
	"default_image_model":                 "openai/dall-e-3",
	"default_provider_sort":               "latency",
	"io_logging_api_key_ids":              []any{12.0, 9007199254740991.0},
	"io_logging_sampling_rate":            0.25,
	"is_data_discount_logging_enabled":    true,
	"is_observability_broadcast_enabled":  true,
	"is_observability_io_logging_enabled": true,
	"disabled_server_tools":               []any{"openrouter:web_search", "openrouter:experimental__search_models"},
}

// wantSettings fails unless every member of want has that value in d.
func wantSettings(t *testing.T, what string, d, want map[string]any) {
	t.Helper()
	for f, v := range want {
		if !reflect.DeepEqual(d[f], v) {
			t.Errorf("%s: %s = %#v, want %#v", what, f, d[f], v)
		}
	}
}

// TestWorkspaceSettingsHTTP: the settings a POST carries are stored and
// reported by the POST, GET and the list, not replaced by defaults.
func TestWorkspaceSettingsHTTP(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{"name": "Configured"}
	maps.Copy(body, allSettings)
	d := e.createWorkspace(body)
	wantSettings(t, "POST", d, allSettings)
	id := d["id"].(string)
	wantSettings(t, "GET", e.mgmt("GET", "/api/v1/workspaces/"+id, nil).json(t)["data"].(map[string]any), allSettings)
	var listed map[string]any
	for _, v := range e.mgmt("GET", "/api/v1/workspaces", nil).json(t)["data"].([]any) {
		if v.(map[string]any)["id"] == id {
			listed = v.(map[string]any)
		}
	}
	wantSettings(t, "GET list", listed, allSettings)
	if d["include_byok_in_budgets"] != false {
		t.Errorf("include_byok_in_budgets = %v, want false", d["include_byok_in_budgets"])
	}

	w, err := e.store.Workspace(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	text, image, sort := "openai/gpt-4o", "openai/dall-e-3", "latency"
	want := keygate.WorkspaceSettings{
		DefaultTextModel: &text, DefaultImageModel: &image, DefaultProviderSort: &sort,
		IOLoggingAPIKeyIDs: []int64{12, 1<<53 - 1}, IOLoggingSamplingRate: 0.25,
		IsDataDiscountLoggingEnabled: true, IsObservabilityBroadcastEnabled: true, IsObservabilityIOLoggingEnabled: true,
		DisabledServerTools: []string{"openrouter:web_search", "openrouter:experimental__search_models"},
	}
	if !reflect.DeepEqual(w.WorkspaceSettings, want) {
		t.Errorf("stored settings %+v, want %+v", w.WorkspaceSettings, want)
	}

	// Each member alone, at the edges of its range.
	tests := []struct {
		name string
		body map[string]any
		want map[string]any
	}{
		{"sampling-rate-min", map[string]any{"io_logging_sampling_rate": 0.0001}, map[string]any{"io_logging_sampling_rate": 0.0001}},
		{"sampling-rate-1", map[string]any{"io_logging_sampling_rate": 1}, map[string]any{"io_logging_sampling_rate": 1.0}},
		{"provider-sort-exacto", map[string]any{"default_provider_sort": "exacto"}, map[string]any{"default_provider_sort": "exacto"}},
		{"provider-sort-null", map[string]any{"default_provider_sort": nil}, map[string]any{"default_provider_sort": nil}},
		{"key-ids-empty", map[string]any{"io_logging_api_key_ids": []int{}}, map[string]any{"io_logging_api_key_ids": []any{}}},
		{"key-ids-null", map[string]any{"io_logging_api_key_ids": nil}, map[string]any{"io_logging_api_key_ids": nil}},
		{"tools-empty-is-null", map[string]any{"disabled_server_tools": []string{}}, map[string]any{"disabled_server_tools": nil}},
		{"tools-repeats-dropped", map[string]any{"disabled_server_tools": []string{"openrouter:bash", "openrouter:shell", "openrouter:bash"}},
			map[string]any{"disabled_server_tools": []any{"openrouter:bash", "openrouter:shell"}}},
		{"text-model-variant", map[string]any{"default_text_model": "meta-llama/llama-3.1-8b-instruct:free"}, map[string]any{"default_text_model": "meta-llama/llama-3.1-8b-instruct:free"}},
		{"nothing-set", map[string]any{}, map[string]any{
			"default_text_model": nil, "default_image_model": nil, "default_provider_sort": nil, "io_logging_api_key_ids": nil,
			"io_logging_sampling_rate": 1.0, "is_data_discount_logging_enabled": false, "is_observability_broadcast_enabled": false,
			"is_observability_io_logging_enabled": false, "disabled_server_tools": nil,
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"name": fmt.Sprintf("Edge %d", i)}
			maps.Copy(body, tt.body)
			d := e.createWorkspace(body)
			wantSettings(t, "POST", d, tt.want)
			wantSettings(t, "GET", e.mgmt("GET", "/api/v1/workspaces/"+d["id"].(string), nil).json(t)["data"].(map[string]any), tt.want)
		})
	}
}

// TestUpdateWorkspaceSettingsHTTP: a PATCH changes the settings it
// carries and no other; null clears a nullable one; a bad member refuses
// the whole PATCH.
func TestUpdateWorkspaceSettingsHTTP(t *testing.T) {
	tests := []struct {
		name   string
		patch  any
		status int
		field  string
		want   map[string]any // members of the answer; the rest of allSettings unchanged
	}{
		{"text-model", map[string]any{"default_text_model": "anthropic/claude-sonnet-4"}, 200, "", map[string]any{"default_text_model": "anthropic/claude-sonnet-4"}},
		{"text-model-null", `{"default_text_model":null}`, 200, "", map[string]any{"default_text_model": nil}},
		{"image-model-null", `{"default_image_model":null}`, 200, "", map[string]any{"default_image_model": nil}},
		{"provider-sort", map[string]any{"default_provider_sort": "price"}, 200, "", map[string]any{"default_provider_sort": "price"}},
		{"provider-sort-null", `{"default_provider_sort":null}`, 200, "", map[string]any{"default_provider_sort": nil}},
		{"key-ids", map[string]any{"io_logging_api_key_ids": []int{5}}, 200, "", map[string]any{"io_logging_api_key_ids": []any{5.0}}},
		{"key-ids-null", `{"io_logging_api_key_ids":null}`, 200, "", map[string]any{"io_logging_api_key_ids": nil}},
		{"key-ids-empty", `{"io_logging_api_key_ids":[]}`, 200, "", map[string]any{"io_logging_api_key_ids": []any{}}},
		{"sampling-rate", map[string]any{"io_logging_sampling_rate": 0.5}, 200, "", map[string]any{"io_logging_sampling_rate": 0.5}},
		{"switches-off", map[string]any{"is_data_discount_logging_enabled": false, "is_observability_broadcast_enabled": false, "is_observability_io_logging_enabled": false}, 200, "",
			map[string]any{"is_data_discount_logging_enabled": false, "is_observability_broadcast_enabled": false, "is_observability_io_logging_enabled": false}},
		{"tools", map[string]any{"disabled_server_tools": []string{"openrouter:datetime"}}, 200, "", map[string]any{"disabled_server_tools": []any{"openrouter:datetime"}}},
		{"tools-null", `{"disabled_server_tools":null}`, 200, "", map[string]any{"disabled_server_tools": nil}},
		{"tools-empty-clears", `{"disabled_server_tools":[]}`, 200, "", map[string]any{"disabled_server_tools": nil}},
		{"name-only-keeps-settings", map[string]any{"name": "Renamed"}, 200, "", map[string]any{"name": "Renamed"}},
		{"sampling-rate-null", `{"io_logging_sampling_rate":null}`, 400, "io_logging_sampling_rate", nil},
		{"sampling-rate-0", map[string]any{"io_logging_sampling_rate": 0}, 400, "io_logging_sampling_rate", nil},
		{"sampling-rate-2", map[string]any{"io_logging_sampling_rate": 2}, 400, "io_logging_sampling_rate", nil},
		{"switch-null", `{"is_observability_broadcast_enabled":null}`, 400, "is_observability_broadcast_enabled", nil},
		{"switch-string", `{"is_observability_io_logging_enabled":"false"}`, 400, "is_observability_io_logging_enabled", nil},
		{"provider-sort-bad", map[string]any{"default_provider_sort": "cheapest"}, 400, "default_provider_sort", nil},
		{"text-model-empty", map[string]any{"default_text_model": ""}, 400, "default_text_model", nil},
		{"key-ids-fraction", `{"io_logging_api_key_ids":[2.5]}`, 400, "io_logging_api_key_ids", nil},
		{"tools-bad", map[string]any{"disabled_server_tools": []string{"openrouter:"}}, 400, "disabled_server_tools", nil},
		{"valid-name-bad-setting", map[string]any{"name": "Renamed", "io_logging_sampling_rate": 5}, 400, "io_logging_sampling_rate", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := map[string]any{"name": "Prod"}
			maps.Copy(body, allSettings)
			id := e.createWorkspace(body)["id"].(string)
			before, err := e.store.Workspace(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			r := e.mgmt("PATCH", "/api/v1/workspaces/"+id, tt.patch)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				after, err := e.store.Workspace(context.Background(), id)
				if err != nil || !reflect.DeepEqual(after, before) {
					t.Errorf("a refused PATCH changed the workspace: %+v, %v; was %+v", after, err, before)
				}
				return
			}
			want := maps.Clone(allSettings)
			maps.Copy(want, tt.want)
			got := r.json(t)["data"].(map[string]any)
			wantSettings(t, "PATCH", got, want)
			wantSettings(t, "GET after PATCH", e.mgmt("GET", "/api/v1/workspaces/"+id, nil).json(t)["data"].(map[string]any), want)
			if got["updated_at"] != "2026-03-04T12:01:00.000Z" {
				t.Errorf("updated_at = %v, want the time of the PATCH", got["updated_at"])
			}
		})
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
	// A workspace whose only keys are disabled: GET /keys shows none, so
	// nothing is "active" and the delete takes them along.
	dormant := e.createWorkspace(map[string]any{"name": "Dormant"})["id"].(string)
	var dormantKeys, dormantHashes []string
	for _, n := range []string{"off-1", "off-2"} {
		secret, d := e.createKey(map[string]any{"name": n, "workspace_id": dormant})
		if r := e.mgmt("PATCH", "/api/v1/keys/"+d["hash"].(string), map[string]any{"disabled": true}); r.status != 200 {
			t.Fatalf("disable %s: %d %s", n, r.status, r.body)
		}
		dormantKeys, dormantHashes = append(dormantKeys, secret), append(dormantHashes, d["hash"].(string))
	}
	if got := e.mgmt("GET", "/api/v1/keys?workspace_id="+dormant, nil).json(t)["data"].([]any); len(got) != 0 {
		t.Fatalf("GET /keys lists %d keys in the dormant workspace, want none", len(got))
	}
	// One enabled key among disabled ones keeps the workspace.
	mixed := e.createWorkspace(map[string]any{"name": "Mixed"})["id"].(string)
	_, mixedOn := e.createKey(map[string]any{"name": "on", "workspace_id": mixed})
	_, mixedOff := e.createKey(map[string]any{"name": "off", "workspace_id": mixed})
	if r := e.mgmt("PATCH", "/api/v1/keys/"+mixedOff["hash"].(string), map[string]any{"disabled": true}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	const activeKeys = "workspace still holds active API keys; disable or delete them first"

	steps := []struct {
		name, ref string
		status    int
		msg       string
	}{
		{"default", def.ID, 403, "default"},
		{"default-by-slug", "default", 403, "default"},
		{"holds-keys", full, 409, activeKeys},
		{"holds-enabled-and-disabled-keys", mixed, 409, activeKeys},
		{"holds-only-disabled-keys", dormant, 200, ""},
		{"empty", empty, 200, ""},
		{"again", empty, 404, ""},
		{"by-slug", "by-slug", 200, ""},
		{"unknown", VUUID, 404, ""},
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
			if msg := r.errMessage(t); !strings.Contains(msg, s.msg) {
				t.Errorf("message %q, want it to contain %q", msg, s.msg)
			}
		})
	}
	// The dormant workspace's keys went with it: not listed, not found,
	// not usable.
	for i, h := range dormantHashes {
		if r := e.mgmt("GET", "/api/v1/keys/"+h, nil); r.status != 404 {
			t.Errorf("GET /keys/{hash} of a key deleted with its workspace: %d, want 404", r.status)
		}
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+dormantKeys[i]); r.status != 401 {
			t.Errorf("GET /key with a key deleted with its workspace: %d, want 401", r.status)
		}
	}
	if list := e.mgmt("GET", "/api/v1/keys?include_disabled=true", nil).json(t)["data"].([]any); len(list) == 0 {
		t.Error("GET /keys?include_disabled=true lists nothing, want at least the refused workspaces' keys")
	} else {
		for _, v := range list {
			if slices.Contains(dormantHashes, v.(map[string]any)["hash"].(string)) {
				t.Errorf("GET /keys?include_disabled=true still lists %v", v)
			}
		}
	}
	// The refused delete kept both keys of the mixed workspace.
	for _, h := range []string{mixedOn["hash"].(string), mixedOff["hash"].(string)} {
		if r := e.mgmt("GET", "/api/v1/keys/"+h, nil); r.status != 200 {
			t.Errorf("GET /keys/{hash} after a refused workspace delete: %d, want 200", r.status)
		}
	}
	// Each key deleted with the workspace is in the audit log.
	events, err := e.store.ListAudit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, ev := range events {
		if ev.Action == keygate.AuditKeyDeleted && strings.Contains(ev.Detail, dormant) {
			audited = append(audited, ev.KeyHashPrefix)
		}
	}
	if len(audited) != len(dormantHashes) {
		t.Errorf("key.deleted events naming the dormant workspace: %q, want %d", audited, len(dormantHashes))
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
