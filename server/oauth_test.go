package server_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestCreateAuthCodeValidation covers every field rule of POST
// /api/v1/auth/keys/code.
func TestCreateAuthCodeValidation(t *testing.T) {
	e := newEnv(t)
	ws, err := e.store.DefaultWorkspace(context.Background(), e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.newUser("mallory@example.com", false)
	otherWS, _ := e.store.DefaultWorkspace(context.Background(), other.ID)
	tests := []struct {
		name      string
		body      any
		headers   []string
		noAuth    bool
		status    int
		wantField string // a word the error message must contain
	}{
		{"label-100", s256Body("key_label", strings.Repeat("L", 100)), nil, false, 200, ""},
		{"label-101", s256Body("key_label", strings.Repeat("L", 101)), nil, false, 400, "key_label"},
		{"label-100-code-points-multibyte", s256Body("key_label", strings.Repeat("é", 100)), nil, false, 200, ""},
		{"label-101-code-points-multibyte", s256Body("key_label", strings.Repeat("é", 101)), nil, false, 400, "key_label"},
		{"limit-negative", s256Body("limit", -5), nil, false, 400, "limit"},
		{"limit-string", `{"callback_url":"http://localhost:3000/cb","limit":"100"}`, nil, false, 400, "limit"},
		{"limit-bool", `{"callback_url":"http://localhost:3000/cb","limit":true}`, nil, false, 400, "limit"},
		{"limit-array", `{"callback_url":"http://localhost:3000/cb","limit":[]}`, nil, false, 400, "limit"},
		{"limit-overflow", `{"callback_url":"http://localhost:3000/cb","limit":1e309}`, nil, false, 400, "limit"},
		{"limit-huge", s256Body("limit", 1e12), nil, false, 400, "limit"},
		{"limit-zero", s256Body("limit", 0), nil, false, 200, ""},
		{"limit-null", s256Body("limit", nil), nil, false, 200, ""},
		{"usage-limit-type-yearly", s256Body("usage_limit_type", "yearly"), nil, false, 400, "usage_limit_type"},
		{"usage-limit-type-case", s256Body("usage_limit_type", "Daily"), nil, false, 400, "usage_limit_type"},
		{"workspace-not-uuid", s256Body("workspace_id", "not-a-uuid"), nil, false, 400, "workspace_id"},
		{"workspace-unknown", s256Body("workspace_id", "3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f"), nil, false, 400, "workspace_id"},
		{"workspace-of-other-user", s256Body("workspace_id", otherWS.ID), nil, false, 400, "workspace_id"},
		{"expires-past", s256Body("expires_at", "2020-01-01T00:00:00Z"), nil, false, 400, "expires_at"},
		{"expires-no-zone", s256Body("expires_at", "2030-01-01T00:00:00"), nil, false, 400, "expires_at"},
		{"expires-not-date", s256Body("expires_at", "tomorrow"), nil, false, 400, "expires_at"},
		{"expires-offset", s256Body("expires_at", "2030-01-01T00:00:00+02:00"), nil, false, 200, ""},
		{"no-callback", map[string]any{"code_challenge": C1, "code_challenge_method": "S256"}, nil, false, 400, "callback_url"},
		{"callback-wrong-type", `{"callback_url":5}`, nil, false, 400, "callback_url"},
		{"no-auth", s256Body(), nil, true, 401, ""},
		{"bad-key", s256Body(), []string{"Authorization", "Bearer sk-kg-v1-invalid"}, true, 401, ""},
		{"basic-auth", s256Body(), []string{"Authorization", "Basic Zm9vOmJhcg=="}, true, 401, ""},
		{"method-lowercase", s256Body("code_challenge_method", "s256"), nil, false, 400, "code_challenge_method"},
		{"method-unknown", s256Body("code_challenge_method", "S257"), nil, false, 400, "code_challenge_method"},
		{"method-without-challenge", map[string]any{"callback_url": cbLocal, "code_challenge_method": "S256"}, nil, false, 400, "code_challenge"},
		{"empty-challenge-with-method", s256Body("code_challenge", ""), nil, false, 400, "code_challenge"},
		{"s256-padded", s256Body("code_challenge", C1Pad), nil, false, 400, "code_challenge"},
		{"s256-standard-alphabet", s256Body("code_challenge", C1Std), nil, false, 400, "code_challenge"},
		{"s256-hex-digest", s256Body("code_challenge", strings.Repeat("a1", 32)), nil, false, 400, "code_challenge"},
		{"s256-short", s256Body("code_challenge", "abc"), nil, false, 400, "code_challenge"},
		{"plain-30", s256Body("code_challenge", strings.Repeat("p", 30), "code_challenge_method", "plain"), nil, false, 400, "code_challenge"},
		{"plain-slash", s256Body("code_challenge", strings.Repeat("p", 42)+"/", "code_challenge_method", "plain"), nil, false, 400, "code_challenge"},
		{"plain-ok", s256Body("code_challenge", VPlain, "code_challenge_method", "plain"), nil, false, 200, ""},
		{"no-pkce", map[string]any{"callback_url": cbLocal}, nil, false, 200, ""},
		{"fragment", s256Body("callback_url", "https://app.example.com/#/oauth/openrouter"), nil, false, 400, "callback_url"},
		{"javascript", s256Body("callback_url", "javascript:alert(1)"), nil, false, 400, "callback_url"},
		{"javascript-upper", s256Body("callback_url", "JavaScript://x/%0aalert(1)"), nil, false, 400, "callback_url"},
		{"data", s256Body("callback_url", "data:text/html,hi"), nil, false, 400, "callback_url"},
		{"file", s256Body("callback_url", "file:///etc/passwd"), nil, false, 400, "callback_url"},
		{"no-authority", s256Body("callback_url", "https:evil.example/cb"), nil, false, 400, "callback_url"},
		{"relative", s256Body("callback_url", "/cb"), nil, false, 400, "callback_url"},
		{"userinfo", s256Body("callback_url", "https://user:pw@app.example.com/cb"), nil, false, 400, "callback_url"},
		{"http-remote", s256Body("callback_url", "http://app.example.com/cb"), nil, false, 400, "callback_url"},
		{"http-localhost-suffix", s256Body("callback_url", "http://localhost.evil.example/cb"), nil, false, 400, "callback_url"},
		{"http-nip-io", s256Body("callback_url", "http://127.0.0.1.nip.io/cb"), nil, false, 400, "callback_url"},
		{"port-0", s256Body("callback_url", "http://127.0.0.1:0/cb"), nil, false, 400, "callback_url"},
		{"port-65536", s256Body("callback_url", "http://127.0.0.1:65536/cb"), nil, false, 400, "callback_url"},
		{"space", s256Body("callback_url", "https://app.example.com/c b"), nil, false, 400, "callback_url"},
		{"leading-space", s256Body("callback_url", " https://app.example.com/cb"), nil, false, 400, "callback_url"},
		{"too-long", s256Body("callback_url", "https://app.example.com/"+strings.Repeat("a", 2048)), nil, false, 400, "callback_url"},
		{"malformed-json", `{"callback_url":`, nil, false, 400, "JSON"},
		{"duplicate-keys", `{"callback_url":"http://localhost:3000/cb","callback_url":"https://evil.example/cb"}`, nil, false, 400, "callback_url"},
		{"empty-body", ``, nil, false, 400, "JSON"},
		{"json-array", `[]`, nil, false, 400, "JSON"},
		{"xml", `<x/>`, []string{"Content-Type", "application/xml"}, false, 415, "Content-Type"},
		{"all-fields", map[string]any{
			"callback_url": cbLocal, "code_challenge": C1, "code_challenge_method": "S256",
			"limit": 25, "usage_limit_type": "weekly", "expires_at": "2030-01-01T00:00:00Z",
			"workspace_id": ws.ID, "key_label": "CI key",
		}, nil, false, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := tt.headers
			if !tt.noAuth {
				headers = append([]string{"Authorization", "Bearer " + e.userKey}, headers...)
			}
			r := e.do("POST", "/api/v1/auth/keys/code", tt.body, headers...)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status != 200 {
				if msg := r.errMessage(t); !strings.Contains(msg, tt.wantField) {
					t.Errorf("message %q does not name %q", msg, tt.wantField)
				}
				return
			}
			d := r.json(t)["data"].(map[string]any)
			if _, ok := d["app_id"].(float64); !ok {
				t.Errorf("data.app_id = %v, want a number", d["app_id"])
			}
			if _, err := time.Parse(time.RFC3339, d["created_at"].(string)); err != nil {
				t.Errorf("data.created_at = %v, not RFC 3339", d["created_at"])
			}
			if !regexp.MustCompile(`^[A-Za-z0-9._~-]{43,}$`).MatchString(d["id"].(string)) {
				t.Errorf("data.id = %q, want URL-safe characters only", d["id"])
			}
		})
	}
}

// TestCallbackURLAccepted: loopback spellings on any port and private-use
// schemes.
func TestCallbackURLAccepted(t *testing.T) {
	e := newEnv(t)
	for _, cb := range []string{
		"http://localhost:53219/callback", "http://127.0.0.1:49152/cb", "http://[::1]:61023/oauth",
		"http://localhost/", "http://127.0.0.1:8787", "http://127.0.0.2:9000/x", "http://LOCALHOST:3000/cb",
		"vscode://example.vscode-ext/openrouter", "cursor://ext.id/openrouter", "windsurf://ext.id/openrouter",
		"vscode-insiders://ext.id/openrouter", "chrome-extension://abcdefghijklmnopabcdefghijklmnop/callback.html",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/openrouter", "https://app.example.com/cb?state=x&y=1",
	} {
		t.Run(cb, func(t *testing.T) {
			r := e.do("POST", "/api/v1/auth/keys/code", s256Body("callback_url", cb), "Authorization", "Bearer "+e.userKey)
			if r.status != 200 {
				t.Fatalf("callback %q: status %d %s", cb, r.status, r.body)
			}
		})
	}
}

// TestExchange covers the exchange rules and errors.
func TestExchange(t *testing.T) {
	e := newEnv(t)
	ok := func(t *testing.T, r *response) string {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("status %d %s, want 200", r.status, r.body)
		}
		m := r.json(t)
		key, _ := m["key"].(string)
		if !regexp.MustCompile(`^sk-kg-v1-[0-9a-f]{64}$`).MatchString(key) {
			t.Fatalf("key = %q, want sk-kg-v1-<64 hex>", key)
		}
		if m["user_id"] != e.user.ID {
			t.Fatalf("user_id = %v, want %s", m["user_id"], e.user.ID)
		}
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 200 {
			t.Fatalf("GET /key with the new key: %d %s", r.status, r.body)
		}
		return key
	}
	fail := func(t *testing.T, r *response, status int, msg string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d %s, want %d", r.status, r.body, status)
		}
		if got := r.errMessage(t); got != msg {
			t.Fatalf("message %q, want %q", got, msg)
		}
	}
	t.Run("s256", func(t *testing.T) {
		c := e.code(s256Body())
		ok(t, e.exchange(map[string]any{"code": c, "code_verifier": V1, "code_challenge_method": "S256"}))
	})
	t.Run("plain", func(t *testing.T) {
		c := e.code(s256Body("code_challenge", VPlain, "code_challenge_method", "plain"))
		ok(t, e.exchange(map[string]any{"code": c, "code_verifier": VPlain, "code_challenge_method": "plain"}))
	})
	t.Run("no-pkce", func(t *testing.T) {
		c := e.code(map[string]any{"callback_url": cbLocal})
		ok(t, e.exchange(map[string]any{"code": c}))
	})
	t.Run("challenge-without-method-is-plain", func(t *testing.T) {
		c := e.code(map[string]any{"callback_url": cbLocal, "code_challenge": VPlain})
		ok(t, e.exchange(map[string]any{"code": c, "code_verifier": VPlain}))
		c2 := e.code(map[string]any{"callback_url": cbLocal, "code_challenge": VPlain})
		fail(t, e.exchange(map[string]any{"code": c2, "code_verifier": V1, "code_challenge_method": "S256"}), 400, keygate.MsgInvalidMethod)
	})
	t.Run("method-omitted-or-null", func(t *testing.T) {
		ok(t, e.exchange(map[string]any{"code": e.code(s256Body()), "code_verifier": V1}))
		ok(t, e.exchange(`{"code":"`+e.code(s256Body())+`","code_verifier":"`+V1+`","code_challenge_method":null}`))
	})
	t.Run("method-mismatch-keeps-code", func(t *testing.T) {
		c := e.code(s256Body())
		fail(t, e.exchange(map[string]any{"code": c, "code_verifier": C1, "code_challenge_method": "plain"}), 400, keygate.MsgInvalidMethod)
		fail(t, e.exchange(map[string]any{"code": c, "code_verifier": V1, "code_challenge_method": "s256"}), 400, keygate.MsgInvalidMethod)
		ok(t, e.exchange(map[string]any{"code": c, "code_verifier": V1, "code_challenge_method": "S256"}))
	})
	t.Run("downgrade-verifier-on-code-without-pkce", func(t *testing.T) {
		c := e.code(map[string]any{"callback_url": cbLocal})
		fail(t, e.exchange(map[string]any{"code": c, "code_verifier": V1}), 400, keygate.MsgInvalidMethod)
		fail(t, e.exchange(map[string]any{"code": c, "code_challenge_method": "S256"}), 400, keygate.MsgInvalidMethod)
	})
	t.Run("verifier-problems", func(t *testing.T) {
		for _, tc := range []struct{ challenge, verifier string }{
			{CUUID, VUUID}, {C129, strings.Repeat("A", 129)}, {C1, ""}, {C1, "wrong-verifier-wrong-verifier-wrong-verifier-00"},
		} {
			c := e.code(s256Body("code_challenge", tc.challenge))
			body := map[string]any{"code": c, "code_challenge_method": "S256"}
			if tc.verifier != "" {
				body["code_verifier"] = tc.verifier
			}
			fail(t, e.exchange(body), 403, keygate.MsgInvalidCode)
		}
		fail(t, e.exchange(map[string]any{"code": "does-not-exist", "code_verifier": V1}), 403, keygate.MsgInvalidCode)
		if r := e.exchange(map[string]any{"code_verifier": V1}); r.status != 400 || !strings.Contains(r.errMessage(t), "code") {
			t.Fatalf("missing code: %d %s, want 400 naming code", r.status, r.body)
		}
	})
	t.Run("replay-right-verifier-disables-key", func(t *testing.T) {
		c := e.code(s256Body())
		body := map[string]any{"code": c, "code_verifier": V1, "code_challenge_method": "S256"}
		key := ok(t, e.exchange(body))
		fail(t, e.exchange(body), 403, keygate.MsgInvalidCode)
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 401 {
			t.Fatalf("key after replay: %d, want 401", r.status)
		}
		k, err := e.store.Key(context.Background(), keygate.HashSecret(key))
		if err != nil || !k.Disabled {
			t.Fatalf("stored key after replay: %+v %v, want disabled", k, err)
		}
		events, _ := e.store.ListAudit(context.Background(), 50)
		found := false
		for _, ev := range events {
			found = found || ev.Action == keygate.AuditReplayDetected
		}
		if !found {
			t.Fatalf("no %s audit event", keygate.AuditReplayDetected)
		}
	})
	t.Run("replay-wrong-verifier-keeps-key", func(t *testing.T) {
		c := e.code(s256Body())
		key := ok(t, e.exchange(map[string]any{"code": c, "code_verifier": V1}))
		fail(t, e.exchange(map[string]any{"code": c, "code_verifier": "wrong-verifier-wrong-verifier-wrong-verifier-00"}), 403, keygate.MsgInvalidCode)
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 200 {
			t.Fatalf("key after wrong-verifier replay: %d, want 200", r.status)
		}
	})
	t.Run("replay-without-pkce-disables-key", func(t *testing.T) {
		c := e.code(map[string]any{"callback_url": cbLocal})
		key := ok(t, e.exchange(map[string]any{"code": c}))
		fail(t, e.exchange(map[string]any{"code": c}), 403, keygate.MsgInvalidCode)
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key); r.status != 401 {
			t.Fatalf("key after replay: %d, want 401", r.status)
		}
	})
	t.Run("expired", func(t *testing.T) {
		c := e.code(s256Body())
		e.clock.Advance(10*time.Minute + time.Millisecond)
		defer e.clock.Advance(-10*time.Minute - time.Millisecond)
		fail(t, e.exchange(map[string]any{"code": c, "code_verifier": V1}), 403, keygate.MsgCodeExpired)
	})
	t.Run("extra-fields-ignored", func(t *testing.T) {
		c := e.code(s256Body())
		ok(t, e.exchange(map[string]any{"code": c, "code_verifier": V1, "code_challenge_method": "S256", "grant_type": "authorization_code",
			"redirect_uri": "http://127.0.0.1:3000/callback", "client_id": "x", "code_challenge": C1, "state": "st"}))
	})
	t.Run("media-types", func(t *testing.T) {
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
			c := e.code(s256Body())
			ok(t, e.do("POST", "/api/v1/auth/keys", `{"code":"`+c+`","code_verifier":"`+V1+`"}`, "Content-Type", ct))
		}
		c := e.code(s256Body())
		ok(t, e.do("POST", "/api/v1/auth/keys", "code="+c+"&code_verifier="+V1+"&code_challenge_method=S256", "Content-Type", "application/x-www-form-urlencoded"))
	})
	t.Run("bad-bodies", func(t *testing.T) {
		for _, b := range []string{`{bad json`, `{}`, ``, `{"code":5}`, `{"code":"a","code":"b"}`} {
			r := e.do("POST", "/api/v1/auth/keys", b, "Content-Type", "application/json")
			if r.status != 400 {
				t.Errorf("body %q: status %d, want 400", b, r.status)
			}
			r.errMessage(t)
		}
		r := e.do("POST", "/api/v1/auth/keys", strings.Repeat("a", 2<<20), "Content-Type", "application/json")
		if r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MiB body: status %d, want 413", r.status)
		}
	})
	t.Run("method-not-allowed", func(t *testing.T) {
		for _, tc := range []struct{ method, path, allow string }{
			{"GET", "/api/v1/auth/keys", "POST"}, {"PUT", "/api/v1/auth/keys", "POST"},
			{"GET", "/api/v1/auth/keys/code", "POST"}, {"POST", "/api/v1/key", "GET, HEAD"},
		} {
			r := e.do(tc.method, tc.path, nil)
			if r.status != 405 || r.header.Get("Allow") != tc.allow {
				t.Errorf("%s %s: %d Allow=%q, want 405 Allow=%q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.allow)
			}
			r.errMessage(t)
		}
	})
}

// TestMintedKeyCarriesCodeFields: the exchanged key has the code's limit,
// reset, expiry, label and workspace.
func TestMintedKeyCarriesCodeFields(t *testing.T) {
	e := newEnv(t)
	c := e.code(s256Body("limit", 30, "usage_limit_type", "daily", "expires_at", "2030-01-01T00:00:00+01:00", "key_label", "CI key"))
	r := e.exchange(map[string]any{"code": c, "code_verifier": V1})
	key := r.json(t)["key"].(string)
	for _, path := range []string{"/api/v1/key", "/api/v1/auth/key"} {
		r := e.do("GET", path, nil, "Authorization", "Bearer "+key)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		d := r.json(t)["data"].(map[string]any)
		want := map[string]any{
			"limit": 30.0, "limit_remaining": 30.0, "limit_reset": "daily", "label": "CI key",
			"expires_at": "2029-12-31T23:00:00.000Z", "usage": 0.0, "is_management_key": false,
		}
		for k, v := range want {
			if d[k] != v {
				t.Errorf("%s data.%s = %v, want %v", path, k, d[k], v)
			}
		}
	}
}

// TestCurrentKeyShape: every field the spec and the SDK require, with its
// type.
func TestCurrentKeyShape(t *testing.T) {
	e := newEnv(t)
	c := e.code(map[string]any{"callback_url": cbLocal})
	key := e.exchange(map[string]any{"code": c}).json(t)["key"].(string)
	r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key)
	d := r.json(t)["data"].(map[string]any)
	types := map[string]string{
		"label": "string", "limit": "null", "limit_remaining": "null", "limit_reset": "null",
		"usage": "number", "usage_daily": "number", "usage_weekly": "number", "usage_monthly": "number",
		"byok_usage": "number", "byok_usage_daily": "number", "byok_usage_weekly": "number", "byok_usage_monthly": "number",
		"is_free_tier": "bool", "is_management_key": "bool", "is_provisioning_key": "bool", "include_byok_in_limit": "bool",
		"creator_user_id": "string", "expires_at": "null", "workspace_id": "string", "organization_id": "null",
		"allowed_data_regions": "array", "free_model_daily_requests": "object", "rate_limit": "object",
	}
	for field, want := range types {
		v, present := d[field]
		if !present {
			t.Errorf("data.%s missing", field)
			continue
		}
		if got := jsonType(v); got != want {
			t.Errorf("data.%s is %s, want %s", field, got, want)
		}
	}
	// The label of a key minted for a loopback app without key_label is the
	// app's fixed title.
	if d["label"] != "localhost:3000" {
		t.Errorf("label = %v, want localhost:3000", d["label"])
	}
	fm := d["free_model_daily_requests"].(map[string]any)
	rl := d["rate_limit"].(map[string]any)
	for _, f := range []string{"limit", "remaining", "used"} {
		if jsonType(fm[f]) != "number" {
			t.Errorf("free_model_daily_requests.%s = %v", f, fm[f])
		}
	}
	if jsonType(rl["requests"]) != "number" || jsonType(rl["interval"]) != "string" || jsonType(rl["note"]) != "string" {
		t.Errorf("rate_limit = %v", rl)
	}
	for _, tc := range []struct{ name, auth string }{
		{"no-header", ""}, {"unknown-key", "Bearer sk-kg-v1-0000"}, {"well-formed-unknown", "Bearer sk-kg-v1-" + strings.Repeat("0", 64)},
	} {
		var h []string
		if tc.auth != "" {
			h = []string{"Authorization", tc.auth}
		}
		if r := e.do("GET", "/api/v1/key", nil, h...); r.status != 401 {
			t.Errorf("%s: status %d, want 401", tc.name, r.status)
		} else {
			r.errMessage(t)
		}
	}
	r = e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+e.mgmtKey)
	if d := r.json(t)["data"].(map[string]any); d["is_management_key"] != true {
		t.Errorf("management key: is_management_key = %v", d["is_management_key"])
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

// TestAttribution: the same Referer gives the same app_id; X-OpenRouter-Title
// wins over X-Title; loopback apps get host:port.
func TestAttribution(t *testing.T) {
	e := newEnv(t)
	appID := func(h ...string) float64 {
		r := e.do("POST", "/api/v1/auth/keys/code", s256Body("callback_url", "https://cb.example/x"), append([]string{"Authorization", "Bearer " + e.userKey}, h...)...)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		return r.json(t)["data"].(map[string]any)["app_id"].(float64)
	}
	a := appID("HTTP-Referer", "https://myapp.example", "X-Title", "My App")
	b := appID("HTTP-Referer", "https://myapp.example/", "X-OpenRouter-Title", "My App 2")
	c := appID("HTTP-Referer", "HTTPS://MyApp.example:443", "X-Title", "A", "X-OpenRouter-Title", "B")
	d := appID("HTTP-Referer", "https://other.example", "X-OpenRouter-Title", "My App")
	appID("X-OpenRouter-Categories", "cli-agent,cloud-agent")
	appID()
	if a != b || b != c {
		t.Errorf("same Referer gave app ids %v %v %v", a, b, c)
	}
	if d == a {
		t.Errorf("other Referer gave the same app id %v", d)
	}
	app, err := e.store.App(context.Background(), int64(c))
	if err != nil || app.Title != "B" {
		t.Errorf("app title = %+v %v, want B (X-OpenRouter-Title wins)", app, err)
	}
	r := e.do("POST", "/api/v1/auth/keys/code", s256Body("callback_url", "http://127.0.0.1:8787/cb"), "Authorization", "Bearer "+e.userKey, "X-OpenRouter-Categories", "CLI-Agent, bad category!,cli-agent")
	id := r.json(t)["data"].(map[string]any)["app_id"].(float64)
	app, _ = e.store.App(context.Background(), int64(id))
	if app.Title != "127.0.0.1:8787" || !app.IsLoopback || len(app.Categories) != 1 || app.Categories[0] != "cli-agent" {
		t.Errorf("loopback app = %+v, want title 127.0.0.1:8787, loopback, [cli-agent]", app)
	}
}

// TestCORS: the whole /api/v1 surface is open to browser apps.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	r := e.do("OPTIONS", "/api/v1/auth/keys", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	r = e.exchange(map[string]any{"code": "nope"})
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("exchange error lacks CORS header: %v", r.header)
	}
	if r := e.do("GET", "/api/v1/nope", nil); r.status != 404 {
		t.Fatalf("unknown API path: %d", r.status)
	} else {
		r.errMessage(t)
	}
}

// TestDelegationNeverEscalates: a key minted from a code that an ordinary
// key created spends at most what its parent has left and expires no later.
func TestDelegationNeverEscalates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	limit, exp := 10.0, "2027-01-01T00:00:00Z"
	parent, _, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "parent", LimitUSD: &limit, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/auth/keys/code", s256Body("limit", 50, "expires_at", "2030-01-01T00:00:00Z"), "Authorization", "Bearer "+parent)
	c := r.json(t)["data"].(map[string]any)["id"].(string)
	child := e.exchange(map[string]any{"code": c, "code_verifier": V1}).json(t)["key"].(string)
	d := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+child).json(t)["data"].(map[string]any)
	if d["limit"] != 10.0 || d["expires_at"] != "2027-01-01T00:00:00.000Z" {
		t.Errorf("child limit %v expires %v, want 10 and the parent's expiry", d["limit"], d["expires_at"])
	}
	// A management key delegates without bounds.
	r = e.do("POST", "/api/v1/auth/keys/code", s256Body("limit", 50), "Authorization", "Bearer "+e.mgmtKey)
	c = r.json(t)["data"].(map[string]any)["id"].(string)
	k2 := e.exchange(map[string]any{"code": c, "code_verifier": V1}).json(t)["key"].(string)
	if d := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+k2).json(t)["data"].(map[string]any); d["limit"] != 50.0 {
		t.Errorf("management-delegated limit = %v, want 50", d["limit"])
	}
}
