package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// route is one request of a management-API permission test.
type route struct {
	name, method, path string
	body               any
}

// checkManagementOnly sends every route with every credential the
// management API must refuse (none, not Bearer, unknown, an ordinary key,
// a disabled and an expired management key) and checks status and message.
// It returns a management key of another user, for the 404 checks that
// differ per resource. The clock is moved on two hours.
func (e *env) checkManagementOnly(t *testing.T, routes []route) (otherUsersMgmt string) {
	t.Helper()
	ctx := context.Background()
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
	_, otherUsersMgmt = e.newUser("mallory@example.com", true)
	e.clock.Advance(2 * time.Hour)

	auths := []struct {
		name, header string
		status       int
		msg          string
	}{
		{"no-key", "", 401, "Missing Authentication header"},
		{"not-bearer", "Basic Zm9vOmJhcg==", 401, ""},
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
					t.Fatalf("%s %s: status %d %s, want %d", rt.method, rt.path, r.status, r.body, a.status)
				}
				if msg := r.errMessage(t); !strings.Contains(msg, a.msg) {
					t.Errorf("message %q, want it to contain %q", msg, a.msg)
				}
			})
		}
	}
	return otherUsersMgmt
}
