package keygate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func TestListUsers(t *testing.T) {
	e := newSessionEnv(t)
	ctx := t.Context()
	for i := range 3 {
		e.now = e.now.Add(time.Second) // oldest first: one a second
		if _, err := e.svc.CreateUser(ctx, fmt.Sprintf("user%d@example.com", i), password); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name          string
		offset, limit int
		want          []string
	}{
		{"all", 0, 0, []string{"alice@example.com", "user0@example.com", "user1@example.com", "user2@example.com"}},
		{"page", 1, 2, []string{"user0@example.com", "user1@example.com"}},
		{"negative-offset", -5, 1, []string{"alice@example.com"}},
		{"limit-over-max", 0, keygate.MaxUserPage + 1, []string{"alice@example.com", "user0@example.com", "user1@example.com", "user2@example.com"}},
		{"past-the-end", 9, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, total, err := e.svc.ListUsers(ctx, tt.offset, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range users {
				got = append(got, u.Email)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || total != 4 {
				t.Errorf("ListUsers(%d, %d) = %v of %d, want %v of 4", tt.offset, tt.limit, got, total, tt.want)
			}
		})
	}
}

// TestSetPassword: the new password signs in, the old one no longer does,
// and every session that existed ends; the rules of a new password hold.
func TestSetPassword(t *testing.T) {
	e := newSessionEnv(t)
	ctx := t.Context()
	old, err := e.svc.Login(ctx, "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	const newPassword = "a new and longer passphrase"
	if _, err := e.svc.SetPassword(ctx, "Alice@Example.com", newPassword); err != nil {
		t.Fatalf("SetPassword = %v", err)
	}
	if _, _, err := e.svc.SessionUser(ctx, old); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("session from before the change: %v, want unauthorized", err)
	}
	if _, err := e.svc.Login(ctx, "alice@example.com", password); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("old password: %v, want unauthorized", err)
	}
	if _, err := e.svc.Login(ctx, "alice@example.com", newPassword); err != nil {
		t.Errorf("new password: %v", err)
	}
	events, err := e.db.ListAudit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range events {
		found = found || ev.Action == keygate.AuditUserPasswordSet && ev.ActorUserID == e.user.ID
	}
	if !found {
		t.Errorf("no %s event for alice in %+v", keygate.AuditUserPasswordSet, events)
	}
	if strings.Contains(e.logs.String(), newPassword) {
		t.Error("the logs hold the new password")
	}

	for _, tt := range []struct {
		name, email, password, code string
	}{
		{"too-short", "alice@example.com", "short", keygate.EINVALID},
		{"too-long", "alice@example.com", strings.Repeat("p", keygate.MaxPasswordLen+1), keygate.EINVALID},
		{"unknown-email", "bob@example.com", newPassword, keygate.ENOTFOUND},
		{"bad-email", "not an email", newPassword, keygate.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.svc.SetPassword(ctx, tt.email, tt.password); keygate.ErrorCode(err) != tt.code {
				t.Errorf("SetPassword(%s) = %v, want %s", tt.name, err, tt.code)
			}
		})
	}
}

// TestSetUserDisabled: a disabled user cannot sign in (with the answer of
// a wrong password) and their sessions end; enabled again, they can.
func TestSetUserDisabled(t *testing.T) {
	e := newSessionEnv(t)
	ctx := t.Context()
	token, err := e.svc.Login(ctx, "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.SetUserDisabled(ctx, "alice@example.com", true)
	if err != nil || !u.Disabled {
		t.Fatalf("SetUserDisabled = %+v, %v", u, err)
	}
	if _, _, err := e.svc.SessionUser(ctx, token); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("session of a disabled user: %v, want unauthorized", err)
	}
	_, err = e.svc.Login(ctx, "alice@example.com", password)
	if keygate.ErrorCode(err) != keygate.EUNAUTHORIZED || keygate.ErrorMessage(err) != "Wrong email or password" {
		t.Errorf("Login of a disabled user = %v, want the wrong-password answer", err)
	}
	if _, err := e.svc.SetUserDisabled(ctx, "alice@example.com", true); err != nil {
		t.Errorf("disabling again = %v, want nil", err)
	}
	if _, err := e.svc.SetUserDisabled(ctx, "alice@example.com", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "alice@example.com", password); err != nil {
		t.Errorf("Login after enabling = %v", err)
	}
	events, err := e.db.ListAudit(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range events {
		if strings.HasPrefix(ev.Action, "user.") {
			actions = append(actions, ev.Action)
		}
	}
	if strings.Join(actions, ",") != keygate.AuditUserEnabled+","+keygate.AuditUserDisabled {
		t.Errorf("user events, newest first = %v, want one enable after one disable", actions)
	}
	if _, err := e.svc.SetUserDisabled(ctx, "bob@example.com", true); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("SetUserDisabled(unknown) = %v, want not_found", err)
	}
}
