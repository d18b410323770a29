package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// mgmt sends a request with the env's management key.
func (e *env) mgmt(method, path string, body any) *response {
	e.t.Helper()
	return e.do(method, path, body, "Authorization", "Bearer "+e.mgmtKey)
}

// createKey creates a key through POST /api/v1/keys and returns the key and
// its data object.
func (e *env) createKey(body map[string]any) (string, map[string]any) {
	e.t.Helper()
	r := e.mgmt("POST", "/api/v1/keys", body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("POST /api/v1/keys: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	return m["key"].(string), m["data"].(map[string]any)
}

// keyFieldTypes is every member of a key object that the spec and the
// official SDK require, with its JSON type for a key without limit or
// expiry ("null" where the value is null).
var keyFieldTypes = map[string]string{
	"hash": "string", "name": "string", "label": "string", "disabled": "bool",
	"limit": "null", "limit_remaining": "null", "limit_reset": "null", "include_byok_in_limit": "bool",
	"usage": "number", "usage_daily": "number", "usage_weekly": "number", "usage_monthly": "number",
	"byok_usage": "number", "byok_usage_daily": "number", "byok_usage_weekly": "number", "byok_usage_monthly": "number",
	"created_at": "string", "updated_at": "null", "expires_at": "null", "creator_user_id": "string",
	"external_user": "null", "workspace_id": "string",
}

// checkKeyShape fails the test unless d has every member of keyFieldTypes
// with its type; over names members whose value is not null here.
func checkKeyShape(t *testing.T, d map[string]any, over map[string]string) {
	t.Helper()
	for field, want := range keyFieldTypes {
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

func hashOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// TestKeysPermissions: every key route refuses a missing, unknown, ordinary,
// disabled or expired key, and another user's management key sees alice's
// hash as 404 and does not list it.
func TestKeysPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	target := hashOf(e.userKey)
	routes := []route{
		{"list", "GET", "/api/v1/keys", nil},
		{"create", "POST", "/api/v1/keys", map[string]any{"name": "x"}},
		{"get", "GET", "/api/v1/keys/" + target, nil},
		{"update", "PATCH", "/api/v1/keys/" + target, map[string]any{"disabled": true}},
		{"delete", "DELETE", "/api/v1/keys/" + target, nil},
	}
	malloryMgmt := e.checkManagementOnly(t, routes)
	t.Run("other-users-management-key", func(t *testing.T) {
		for _, rt := range routes[2:] {
			r := e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+malloryMgmt)
			if r.status != 404 {
				t.Errorf("%s with another user's management key: %d %s, want 404", rt.method, r.status, r.body)
			} else if msg := r.errMessage(t); strings.Contains(msg, target) {
				t.Errorf("404 message echoes the hash: %q", msg)
			}
		}
		r := e.do("GET", "/api/v1/keys?include_disabled=true", nil, "Authorization", "Bearer "+malloryMgmt)
		if r.status != 200 || strings.Contains(string(r.body), target) || strings.Contains(string(r.body), e.user.ID) {
			t.Errorf("another user's list: %d %s, want 200 without alice's keys", r.status, r.body)
		}
	})
	// None of the refused attempts changed or removed the key.
	k, err := e.store.Key(ctx, target)
	if err != nil || k.Disabled || k.UpdatedAt != nil {
		t.Errorf("target key after refused attempts: %+v, %v", k, err)
	}
}

func TestListKeysHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other := e.mgmt("POST", "/api/v1/workspaces", map[string]any{"name": "Other"}).json(t)["data"].(map[string]any)["id"].(string)
	_, inOther := e.createKey(map[string]any{"name": "in other", "workspace_id": other})
	_, off := e.createKey(map[string]any{"name": "switched off"})
	if r := e.mgmt("PATCH", "/api/v1/keys/"+off["hash"].(string), map[string]any{"disabled": true}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	mallory, _ := e.newUser("mallory@example.com", false)
	malloryWS, err := e.store.DefaultWorkspace(ctx, mallory.ID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		query  string
		status int
		want   []string // names of listed keys, in any order
		field  string
	}{
		{"default", "", 200, []string{"mgmt", "user key"}, ""},
		{"include-disabled", "?include_disabled=true", 200, []string{"mgmt", "switched off", "user key"}, ""},
		{"exclude-disabled", "?include_disabled=false", 200, []string{"mgmt", "user key"}, ""},
		{"workspace", "?workspace_id=" + other, 200, []string{"in other"}, ""},
		{"workspace-with-disabled", "?include_disabled=true&workspace_id=" + other, 200, []string{"in other"}, ""},
		{"offset-zero", "?offset=0", 200, []string{"mgmt", "user key"}, ""},
		{"offset-past-end", "?offset=50", 200, nil, ""},
		{"include-disabled-yes", "?include_disabled=yes", 400, nil, "include_disabled"},
		{"include-disabled-empty", "?include_disabled=", 400, nil, "include_disabled"},
		{"offset-negative", "?offset=-1", 400, nil, "offset"},
		{"offset-text", "?offset=ten", 400, nil, "offset"},
		{"offset-fraction", "?offset=1.5", 400, nil, "offset"},
		{"offset-huge", "?offset=99999999999999999999999", 400, nil, "offset"},
		{"workspace-not-uuid", "?workspace_id=default", 400, nil, "workspace_id"},
		{"workspace-empty", "?workspace_id=", 400, nil, "workspace_id"},
		{"workspace-of-other-user", "?workspace_id=" + malloryWS.ID, 400, nil, "workspace_id"},
		{"workspace-unknown", "?workspace_id=" + VUUID, 400, nil, "workspace_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mgmt("GET", "/api/v1/keys"+tt.query, nil)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				return
			}
			data, ok := r.json(t)["data"].([]any)
			if !ok {
				t.Fatalf("data = %s, want an array", r.body)
			}
			var got []string
			for _, v := range data {
				d := v.(map[string]any)
				checkKeyShape(t, d, map[string]string{"updated_at": jsonType(d["updated_at"])})
				got = append(got, d["name"].(string))
			}
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("offset-skips-the-first", func(t *testing.T) {
		hashes := func(q string) []string {
			var hs []string
			for _, v := range e.mgmt("GET", "/api/v1/keys?include_disabled=true"+q, nil).json(t)["data"].([]any) {
				hs = append(hs, v.(map[string]any)["hash"].(string))
			}
			return hs
		}
		all, rest := hashes(""), hashes("&offset=1")
		if len(all) != 3 || !slices.Equal(rest, all[1:]) {
			t.Errorf("offset=1 lists %v, want %v", rest, all[1:])
		}
	})
	if inOther["workspace_id"] != other {
		t.Errorf("key created in workspace %s has workspace_id %v", other, inOther["workspace_id"])
	}
}

// TestListKeysPageSize: pages hold 100 keys; offset reaches the rest.
func TestListKeysPageSize(t *testing.T) {
	e := newEnv(t)
	for i := range 101 {
		if _, _, err := e.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: e.user.ID, Name: fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, page := range []struct {
		offset, want int
	}{{0, 100}, {100, 3}} { // 101 + the env's two keys
		data := e.mgmt("GET", fmt.Sprint("/api/v1/keys?offset=", page.offset), nil).json(t)["data"].([]any)
		if len(data) != page.want {
			t.Fatalf("offset %d: %d keys, want %d", page.offset, len(data), page.want)
		}
		for _, d := range data {
			h := d.(map[string]any)["hash"].(string)
			if seen[h] {
				t.Fatalf("key %s listed on two pages", h[:8])
			}
			seen[h] = true
		}
	}
}

func TestCreateKeyHTTP(t *testing.T) {
	e := newEnv(t)
	mallory, _ := e.newUser("mallory@example.com", false)
	malloryWS, err := e.store.DefaultWorkspace(context.Background(), mallory.ID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    any
		headers []string
		status  int
		field   string
	}{
		{"name-only", map[string]any{"name": "n"}, nil, 201, ""},
		{"name-100-code-points", map[string]any{"name": strings.Repeat("é", 100)}, nil, 201, ""},
		{"name-101-code-points", map[string]any{"name": strings.Repeat("é", 101)}, nil, 400, "name"},
		{"name-missing", map[string]any{"limit": 1}, nil, 400, "name"},
		{"name-empty", map[string]any{"name": ""}, nil, 400, "name"},
		{"name-blank", map[string]any{"name": "   "}, nil, 400, "name"},
		{"name-null", `{"name":null}`, nil, 400, "name"},
		{"name-number", `{"name":5}`, nil, 400, "name"},
		{"name-control", map[string]any{"name": "a\u0000b"}, nil, 400, "name"},
		{"limit-negative", map[string]any{"name": "n", "limit": -1}, nil, 400, "limit"},
		{"limit-string", `{"name":"n","limit":"5"}`, nil, 400, "limit"},
		{"limit-huge", map[string]any{"name": "n", "limit": 1e12}, nil, 400, "limit"},
		{"limit-null", `{"name":"n","limit":null}`, nil, 201, ""},
		{"limit-zero", map[string]any{"name": "n", "limit": 0}, nil, 201, ""},
		{"limit-reset-yearly", map[string]any{"name": "n", "limit_reset": "yearly"}, nil, 400, "limit_reset"},
		{"limit-reset-capitalised", map[string]any{"name": "n", "limit_reset": "Monthly"}, nil, 400, "limit_reset"},
		{"limit-reset-null", `{"name":"n","limit_reset":null}`, nil, 201, ""},
		{"expires-utc-z", map[string]any{"name": "n", "expires_at": "2030-01-01T00:00:00Z"}, nil, 201, ""},
		{"expires-utc-offset", map[string]any{"name": "n", "expires_at": "2030-01-01T00:00:00+00:00"}, nil, 201, ""},
		{"expires-not-utc", map[string]any{"name": "n", "expires_at": "2030-01-01T00:00:00+02:00"}, nil, 400, "expires_at"},
		{"expires-no-zone", map[string]any{"name": "n", "expires_at": "2030-01-01T00:00:00"}, nil, 400, "expires_at"},
		{"expires-past", map[string]any{"name": "n", "expires_at": "2020-01-01T00:00:00Z"}, nil, 400, "expires_at"},
		{"expires-number", `{"name":"n","expires_at":1}`, nil, 400, "expires_at"},
		{"workspace-not-uuid", map[string]any{"name": "n", "workspace_id": "default"}, nil, 400, "workspace_id"},
		{"workspace-empty", map[string]any{"name": "n", "workspace_id": ""}, nil, 400, "workspace_id"},
		{"workspace-unknown", map[string]any{"name": "n", "workspace_id": VUUID}, nil, 400, "workspace_id"},
		{"workspace-of-other-user", map[string]any{"name": "n", "workspace_id": malloryWS.ID}, nil, 400, "workspace_id"},
		{"byok-string", `{"name":"n","include_byok_in_limit":"yes"}`, nil, 400, "include_byok_in_limit"},
		{"duplicate-name", `{"name":"a","name":"b"}`, nil, 400, "name"},
		{"malformed", `{"name":`, nil, 400, "JSON"},
		{"empty-body", ``, nil, 400, "JSON"},
		{"array", `[]`, nil, 400, "JSON"},
		{"xml", `<x/>`, []string{"Content-Type", "application/xml"}, 415, "Content-Type"},
		{"unknown-fields-ignored", map[string]any{"name": "n", "creator_user_id": "u", "is_management": true}, nil, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/keys", tt.body, append([]string{"Authorization", "Bearer " + e.mgmtKey}, tt.headers...)...)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 201 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				return
			}
			m := r.json(t)
			d := m["data"].(map[string]any)
			if hashOf(m["key"].(string)) != d["hash"] {
				t.Errorf("data.hash is not the SHA-256 of key")
			}
			k, err := e.store.Key(context.Background(), d["hash"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if k.IsManagement || k.UserID != e.user.ID {
				t.Errorf("stored key: management %v, user %s; want an ordinary key of alice", k.IsManagement, k.UserID)
			}
		})
	}
}

// TestCreateKeyEchoesEveryField: a key made with every field answers with
// all of them, GET by hash agrees, and the key itself works on /key.
func TestCreateKeyEchoesEveryField(t *testing.T) {
	e := newEnv(t)
	ws := e.mgmt("POST", "/api/v1/workspaces", map[string]any{"name": "Team"}).json(t)["data"].(map[string]any)["id"].(string)
	key, d := e.createKey(map[string]any{
		"name": "CI key", "limit": 12.5, "limit_reset": "weekly", "expires_at": "2030-06-01T12:00:00Z",
		"workspace_id": ws, "include_byok_in_limit": true,
	})
	over := map[string]string{"limit": "number", "limit_remaining": "number", "limit_reset": "string", "expires_at": "string"}
	checkKeyShape(t, d, over)
	want := map[string]any{
		"name": "CI key", "label": "CI key", "disabled": false, "limit": 12.5, "limit_remaining": 12.5,
		"limit_reset": "weekly", "include_byok_in_limit": true, "usage": 0.0, "expires_at": "2030-06-01T12:00:00.000Z",
		"workspace_id": ws, "creator_user_id": e.user.ID, "created_at": "2026-03-04T12:00:00.000Z",
	}
	for f, v := range want {
		if d[f] != v {
			t.Errorf("data.%s = %v, want %v", f, d[f], v)
		}
	}
	got := e.mgmt("GET", "/api/v1/keys/"+d["hash"].(string), nil).json(t)["data"].(map[string]any)
	for f := range keyFieldTypes {
		if fmt.Sprint(got[f]) != fmt.Sprint(d[f]) {
			t.Errorf("GET by hash: %s = %v, POST said %v", f, got[f], d[f])
		}
	}
	me := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key)
	if me.status != 200 {
		t.Fatalf("GET /key with the new key: %d %s", me.status, me.body)
	}
	if md := me.json(t)["data"].(map[string]any); md["label"] != "CI key" || md["is_management_key"] != false || md["workspace_id"] != ws {
		t.Errorf("GET /key = %v", md)
	}
}

func TestGetKeyHTTP(t *testing.T) {
	e := newEnv(t)
	h := hashOf(e.userKey)
	tests := []struct {
		name, hash string
		status     int
	}{
		{"own", h, 200},
		{"management-key-itself", hashOf(e.mgmtKey), 200},
		{"unknown", strings.Repeat("a", 64), 404},
		{"upper-case", strings.ToUpper(h), 404},
		{"short", h[:12], 404},
		{"not-hex", strings.Repeat("z", 64), 404},
		{"the-key-instead-of-its-hash", e.userKey, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mgmt("GET", "/api/v1/keys/"+tt.hash, nil)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); strings.Contains(msg, tt.hash) {
					t.Errorf("message echoes the path: %q", msg)
				}
				return
			}
			d := r.json(t)["data"].(map[string]any)
			checkKeyShape(t, d, nil)
			if d["hash"] != tt.hash {
				t.Errorf("data.hash = %v, want %s", d["hash"], tt.hash)
			}
		})
	}
}

func TestUpdateKeyHTTP(t *testing.T) {
	tests := []struct {
		name   string
		start  map[string]any
		patch  any
		status int
		field  string         // for 400s
		want   map[string]any // members of data after the PATCH
	}{
		{"name", nil, map[string]any{"name": "renamed"}, 200, "", map[string]any{"name": "renamed", "label": "renamed"}},
		{"disable", nil, map[string]any{"disabled": true}, 200, "", map[string]any{"disabled": true}},
		{"limit", nil, map[string]any{"limit": 7.5}, 200, "", map[string]any{"limit": 7.5, "limit_remaining": 7.5}},
		{"limit-null-removes", map[string]any{"limit": 5}, `{"limit":null}`, 200, "", map[string]any{"limit": nil, "limit_remaining": nil}},
		{"limit-absent-kept", map[string]any{"limit": 5}, map[string]any{"name": "x"}, 200, "", map[string]any{"limit": 5.0}},
		{"limit-reset", nil, map[string]any{"limit_reset": "daily"}, 200, "", map[string]any{"limit_reset": "daily"}},
		{"limit-reset-null-removes", map[string]any{"limit_reset": "monthly"}, `{"limit_reset":null}`, 200, "", map[string]any{"limit_reset": nil}},
		{"byok", nil, map[string]any{"include_byok_in_limit": true}, 200, "", map[string]any{"include_byok_in_limit": true}},
		{"all-at-once", nil, map[string]any{"name": "all", "limit": 1, "limit_reset": "weekly", "disabled": true, "include_byok_in_limit": true}, 200, "",
			map[string]any{"name": "all", "limit": 1.0, "limit_reset": "weekly", "disabled": true, "include_byok_in_limit": true}},
		{"empty-object", map[string]any{"limit": 3}, `{}`, 200, "", map[string]any{"limit": 3.0, "updated_at": nil}},
		{"unknown-field-ignored", nil, map[string]any{"color": "red"}, 200, "", map[string]any{"updated_at": nil}},
		{"expires-at", nil, map[string]any{"expires_at": "2031-01-01T00:00:00Z"}, 400, "expires_at cannot be changed after creation", nil},
		{"expires-at-null", nil, `{"expires_at":null}`, 400, "expires_at cannot be changed after creation", nil},
		{"name-null", nil, `{"name":null}`, 400, "name", nil},
		{"name-empty", nil, map[string]any{"name": ""}, 400, "name", nil},
		{"name-101", nil, map[string]any{"name": strings.Repeat("n", 101)}, 400, "name", nil},
		{"disabled-null", nil, `{"disabled":null}`, 400, "disabled", nil},
		{"disabled-string", nil, `{"disabled":"true"}`, 400, "disabled", nil},
		{"byok-null", nil, `{"include_byok_in_limit":null}`, 400, "include_byok_in_limit", nil},
		{"limit-negative", nil, map[string]any{"limit": -2}, 400, "limit", nil},
		{"limit-string", nil, `{"limit":"2"}`, 400, "limit", nil},
		{"limit-reset-bad", nil, map[string]any{"limit_reset": "hourly"}, 400, "limit_reset", nil},
		{"malformed", nil, `{"name"`, 400, "JSON", nil},
		{"empty-body", nil, ``, 400, "JSON", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			start := map[string]any{"name": "start"}
			for k, v := range tt.start {
				start[k] = v
			}
			key, d := e.createKey(start)
			e.clock.Advance(time.Minute)
			r := e.mgmt("PATCH", "/api/v1/keys/"+d["hash"].(string), tt.patch)
			if r.status != tt.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.field) {
					t.Errorf("message %q does not name %s", msg, tt.field)
				}
				k, err := e.store.Key(context.Background(), d["hash"].(string))
				if err != nil || k.UpdatedAt != nil || k.Name != "start" {
					t.Errorf("a refused PATCH changed the key: %+v, %v", k, err)
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
				t.Errorf("data.updated_at = %v, want the time of the PATCH", got["updated_at"])
			}
			// GET agrees with what PATCH answered, and a disabled key is
			// refused from the next request on.
			again := e.mgmt("GET", "/api/v1/keys/"+d["hash"].(string), nil).json(t)["data"].(map[string]any)
			for f := range keyFieldTypes {
				if fmt.Sprint(again[f]) != fmt.Sprint(got[f]) {
					t.Errorf("GET after PATCH: %s = %v, PATCH said %v", f, again[f], got[f])
				}
			}
			wantStatus := 200
			if got["disabled"] == true {
				wantStatus = 401
			}
			if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != wantStatus {
				t.Errorf("GET /key with the patched key: %d, want %d", r.status, wantStatus)
			}
		})
	}
}

// TestDeleteKeyHTTP: revocation holds from the very next
// request, and a second DELETE is 404.
func TestDeleteKeyHTTP(t *testing.T) {
	e := newEnv(t)
	key, d := e.createKey(map[string]any{"name": "doomed"})
	path := "/api/v1/keys/" + d["hash"].(string)
	if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 200 { // cached now
		t.Fatalf("GET /key before delete: %d", r.status)
	}
	if r := e.do("DELETE", path, nil, "Authorization", "Bearer "+e.userKey); r.status != 403 {
		t.Fatalf("DELETE with an ordinary key: %d, want 403", r.status)
	}
	r := e.mgmt("DELETE", path, nil)
	if r.status != 200 || string(r.body) != `{"deleted":true}` {
		t.Fatalf("DELETE: %d %s, want 200 {\"deleted\":true}", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 401 {
		t.Errorf("GET /key right after delete: %d, want 401", r.status)
	}
	for _, m := range []string{"DELETE", "GET", "PATCH"} {
		if r := e.mgmt(m, path, map[string]any{"name": "x"}); r.status != 404 {
			t.Errorf("%s after delete: %d %s, want 404", m, r.status, r.body)
		} else {
			r.errMessage(t)
		}
	}
	if _, err := e.store.Key(context.Background(), d["hash"].(string)); err == nil {
		t.Error("the key is still in the store")
	}
}

func TestKeysMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ name, method, path, allow string }{
		{"put-keys", "PUT", "/api/v1/keys", "GET, HEAD, POST"},
		{"delete-keys", "DELETE", "/api/v1/keys", "GET, HEAD, POST"},
		{"post-key", "POST", "/api/v1/keys/" + hashOf(e.userKey), "DELETE, GET, HEAD, PATCH"},
		{"put-workspaces", "PUT", "/api/v1/workspaces", "GET, HEAD, POST"},
		{"post-workspace", "POST", "/api/v1/workspaces/default", "DELETE, GET, HEAD, PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mgmt(tt.method, tt.path, nil)
			if r.status != 405 || r.header.Get("Allow") != tt.allow {
				t.Fatalf("status %d, Allow %q; want 405 and %q", r.status, r.header.Get("Allow"), tt.allow)
			}
			r.errMessage(t)
		})
	}
}

// TestKeyUsageAgreesWithEvents: GET /api/v1/key and GET /api/v1/keys/{hash}
// report the usage per period and the limit_remaining that the recorded
// events add up to, including a delegated key's spending on its parent.
func TestKeyUsageAgreesWithEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Monday 2 March 2026, 09:00 UTC.
	e.clock.t = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	key, d := e.createKey(map[string]any{"name": "metered", "limit": 10, "limit_reset": "weekly"})
	hash := d["hash"].(string)
	child := &keygate.APIKey{Hash: hashOf("child"), UserID: e.user.ID, WorkspaceID: d["workspace_id"].(string), ParentHash: hash, Name: "child", Label: "child", CreatedAt: e.clock.t}
	if err := e.store.CreateKey(ctx, child); err != nil {
		t.Fatal(err)
	}
	events := []struct {
		at   time.Time
		key  string
		cost keygate.Micros
		byok bool
	}{
		{time.Date(2026, 2, 27, 10, 0, 0, 0, time.UTC), hash, 500_000, false},             // Friday last week, last month
		{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), hash, 1_250_000, false},             // Monday
		{time.Date(2026, 3, 3, 23, 59, 59, 999_000_000, time.UTC), hash, 2_000_000, true}, // Tuesday, BYOK
		{time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC), child.Hash, 3_000_000, false},       // Wednesday, through the child
		{time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC), hash, 250_000, false},              // Wednesday
	}
	for _, ev := range events {
		e.clock.t = ev.at
		if err := e.svc.Settle(ctx, nil, &keygate.Generation{KeyHash: ev.key, Model: "m", Cost: ev.cost, BYOK: ev.byok}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.t = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // Wednesday noon
	want := map[string]float64{
		"usage": 5, "usage_daily": 3.25, "usage_weekly": 4.5, "usage_monthly": 4.5,
		"byok_usage": 2, "byok_usage_daily": 0, "byok_usage_weekly": 2, "byok_usage_monthly": 2,
		"limit": 10, "limit_remaining": 5.5,
	}
	check := func(t *testing.T, d map[string]any, want map[string]float64) {
		t.Helper()
		for f, v := range want {
			got, ok := d[f].(float64)
			if !ok || math.Abs(got-v) > 1e-9 {
				t.Errorf("%s = %v, want %v", f, d[f], v)
			}
		}
	}
	t.Run("get-key", func(t *testing.T) {
		check(t, e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key).json(t)["data"].(map[string]any), want)
	})
	t.Run("get-keys-hash", func(t *testing.T) {
		check(t, e.mgmt("GET", "/api/v1/keys/"+hash, nil).json(t)["data"].(map[string]any), want)
	})
	t.Run("list", func(t *testing.T) {
		for _, v := range e.mgmt("GET", "/api/v1/keys", nil).json(t)["data"].([]any) {
			if d := v.(map[string]any); d["hash"] == hash {
				check(t, d, want)
				return
			}
		}
		t.Error("the key is not listed")
	})
	t.Run("next-week", func(t *testing.T) {
		e.clock.t = time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
		next := map[string]float64{"usage": 5, "usage_daily": 0, "usage_weekly": 0, "usage_monthly": 4.5, "limit_remaining": 10}
		check(t, e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key).json(t)["data"].(map[string]any), next)
		check(t, e.mgmt("GET", "/api/v1/keys/"+hash, nil).json(t)["data"].(map[string]any), next)
	})
	t.Run("over-the-limit-still-answers", func(t *testing.T) {
		if err := e.svc.Settle(ctx, nil, &keygate.Generation{KeyHash: hash, Cost: 11_000_000}); err != nil {
			t.Fatal(err)
		}
		r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key)
		if r.status != 200 {
			t.Fatalf("GET /key past the limit: %d", r.status)
		}
		check(t, r.json(t)["data"].(map[string]any), map[string]float64{"usage_weekly": 11, "limit_remaining": 0})
		k, err := e.store.Key(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Reserve(ctx, k, 1)
		res.Release()
		if keygate.ErrorMessage(err) != "Key limit exceeded (weekly limit)" {
			t.Errorf("Reserve = %v, want the weekly limit error", err)
		}
	})
}
