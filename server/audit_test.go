package server_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/server"
)

// TestAuditTrail: every security-relevant action taken over HTTP is
// recorded in the audit table and as a structured log line, with the
// actor, the app, the key's hash prefix and the client IP (taken from
// X-Forwarded-For only because the peer is a trusted proxy), and never a
// secret.
func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	e.reserve(server.Config{TrustedProxies: []*net.IPNet{loopback}})
	const clientIP = "203.0.113.9"
	xff := []string{"X-Forwarded-For", clientIP}
	with := func(h ...string) []string { return append(append([]string{}, xff...), h...) }
	bearer := func(k string) []string { return with("Authorization", "Bearer "+k) }
	prefix := func(key string) string { return keygate.HashSecret(key)[:12] }

	// code.created, code.exchanged, code.replay_detected, key.disabled
	r := e.do("POST", "/api/v1/auth/keys/code", s256Body(), bearer(e.userKey)...)
	code := r.json(t)["data"].(map[string]any)["id"].(string)
	r = e.do("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": V1}, xff...)
	minted := r.json(t)["key"].(string)
	e.do("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": V1}, xff...)
	// key.created, key.updated, key.disabled, key.deleted (management API)
	r = e.do("POST", "/api/v1/keys", map[string]any{"name": "audited"}, bearer(e.mgmtKey)...)
	managed := r.json(t)["key"].(string)
	path := "/api/v1/keys/" + keygate.HashSecret(managed)
	e.do("PATCH", path, map[string]any{"name": "renamed"}, bearer(e.mgmtKey)...)
	e.do("PATCH", path, map[string]any{"disabled": true}, bearer(e.mgmtKey)...)
	e.do("DELETE", path, nil, bearer(e.mgmtKey)...)
	// login.failed, login.succeeded
	token := keygate.NewToken()
	form := url.Values{"email": {"alice@example.com"}, "password": {"wrong guess"}, "form_token": {token}}
	e.browse("POST", "/login", form, []string{"keygate_login=" + token}, xff...)
	form.Set("password", testPassword)
	e.browse("POST", "/login", form, []string{"keygate_login=" + token}, xff...)

	events, err := e.store.ListAudit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	codeHash := keygate.HashSecret(code)[:12]
	tests := []struct {
		name    string
		action  string
		actor   bool
		app     bool
		key     string // the expected key hash prefix; "" for none
		matches func(*keygate.AuditEvent) bool
	}{
		{"code-created", keygate.AuditCodeCreated, true, true, prefix(e.userKey), func(ev *keygate.AuditEvent) bool { return ev.Detail == "code "+codeHash }},
		{"code-exchanged", keygate.AuditCodeExchanged, true, true, prefix(minted), nil},
		{"replay-detected", keygate.AuditReplayDetected, true, true, prefix(minted), nil},
		{"replayed-key-disabled", keygate.AuditKeyDisabled, true, true, prefix(minted), nil},
		{"key-created", keygate.AuditKeyCreated, true, false, prefix(managed), nil},
		{"key-updated", keygate.AuditKeyUpdated, true, false, prefix(managed), nil},
		{"key-disabled", keygate.AuditKeyDisabled, true, false, prefix(managed), nil},
		{"key-deleted", keygate.AuditKeyDeleted, true, false, prefix(managed), nil},
		{"login-failed", keygate.AuditLoginFailed, false, false, "", nil},
		{"login-succeeded", keygate.AuditLoginSucceeded, true, false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev *keygate.AuditEvent
			for _, c := range events {
				if c.Action == tt.action && c.KeyHashPrefix == tt.key && (tt.matches == nil || tt.matches(c)) {
					ev = c
					break
				}
			}
			if ev == nil {
				t.Fatalf("no %s event for key %q among %d events", tt.action, tt.key, len(events))
			}
			if ev.ClientIP != clientIP {
				t.Errorf("client IP %q, want %q (X-Forwarded-For from a trusted proxy)", ev.ClientIP, clientIP)
			}
			if tt.actor && ev.ActorUserID != e.user.ID {
				t.Errorf("actor %q, want %s", ev.ActorUserID, e.user.ID)
			}
			if !tt.actor && ev.ActorUserID != "" {
				t.Errorf("actor %q on a failed login: it would tell which accounts exist", ev.ActorUserID)
			}
			if tt.app && ev.AppID == nil {
				t.Errorf("no app")
			}
			if ev.CreatedAt.IsZero() {
				t.Errorf("no time")
			}
			line := "action=" + tt.action
			logs := e.logs.String()
			found := false
			for l := range strings.SplitSeq(logs, "\n") {
				found = found || strings.Contains(l, "msg=audit") && strings.Contains(l, line) && strings.Contains(l, "client_ip="+clientIP) &&
					strings.Contains(l, "key="+tt.key)
			}
			if !found {
				t.Errorf("no structured log line with %s, key=%s and client_ip=%s", line, tt.key, clientIP)
			}
		})
	}
	for _, ev := range events {
		text := ev.Action + ev.ActorUserID + ev.KeyHashPrefix + ev.ClientIP + ev.Detail
		for _, secret := range []string{e.userKey, e.mgmtKey, minted, managed, code, V1, testPassword, "wrong guess"} {
			if strings.Contains(text, secret) {
				t.Errorf("audit event %+v holds a secret", ev)
			}
		}
	}
}
