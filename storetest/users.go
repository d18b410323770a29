package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var userTests = []test{
	{"CreateAndGet", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)

		got, err := s.User(ctx, u.ID)
		must(t, "User", err)
		diff(t, "User", u, got)
		wantUTC(t, "User", &got.CreatedAt)

		got, err = s.UserByEmail(ctx, u.Email)
		must(t, "UserByEmail", err)
		diff(t, "UserByEmail", u, got)
	}},
	{"DefaultWorkspaceCreated", func(t *testing.T, s keygate.Store) {
		u, ws := newUser(t, s)
		got, err := s.DefaultWorkspace(t.Context(), u.ID)
		must(t, "DefaultWorkspace", err)
		diff(t, "DefaultWorkspace", ws, got)
		wantUTC(t, "DefaultWorkspace", &got.CreatedAt)
	}},
	{"EmailConflict", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		u2 := &keygate.User{ID: newID(), Email: u.Email, PasswordHash: "x", CreatedAt: t0}
		ws2 := &keygate.Workspace{ID: newID(), UserID: u2.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: t0}
		wantErr(t, "CreateUser(same email)", s.CreateUser(ctx, u2, ws2), keygate.ErrConflict)
		// One transaction: the failed user left no workspace behind.
		_, err := s.Workspace(ctx, ws2.ID)
		wantErr(t, "Workspace(of failed user)", err, keygate.ErrNotFound)
		_, err = s.User(ctx, u2.ID)
		wantErr(t, "User(failed user)", err, keygate.ErrNotFound)
	}},
	{"IDConflict", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		u2 := &keygate.User{ID: u.ID, Email: "other@example.com", PasswordHash: "x", CreatedAt: t0}
		ws2 := &keygate.Workspace{ID: newID(), UserID: u2.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: t0}
		wantErr(t, "CreateUser(same id)", s.CreateUser(t.Context(), u2, ws2), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		newUser(t, s)
		_, err := s.User(t.Context(), newID())
		wantErr(t, "User(unknown)", err, keygate.ErrNotFound)
		_, err = s.UserByEmail(t.Context(), "nobody@example.com")
		wantErr(t, "UserByEmail(unknown)", err, keygate.ErrNotFound)
	}},
	{"List", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		var want []*keygate.User
		for i := range 5 {
			u := &keygate.User{ID: newID(), Email: fmt.Sprintf("user%d@example.com", i), PasswordHash: "h", CreatedAt: at(time.Duration(5-i) * time.Minute).UTC()}
			must(t, "CreateUser", s.CreateUser(ctx, u, &keygate.Workspace{ID: newID(), Name: "Default", Slug: "default", CreatedAt: u.CreatedAt}))
			want = append([]*keygate.User{u}, want...) // oldest first
		}
		got, total, err := s.ListUsers(ctx, 0, 100)
		must(t, "ListUsers", err)
		if total != 5 {
			t.Errorf("ListUsers total = %d, want 5", total)
		}
		diff(t, "ListUsers", want, got)
		got, total, err = s.ListUsers(ctx, 3, 100)
		must(t, "ListUsers(offset 3)", err)
		diff(t, "ListUsers(offset 3)", want[3:], got)
		got, _, err = s.ListUsers(ctx, 1, 2)
		must(t, "ListUsers(1, 2)", err)
		diff(t, "ListUsers(1, 2)", want[1:3], got)
		got, total, err = s.ListUsers(ctx, 10, 2)
		must(t, "ListUsers(past the end)", err)
		if len(got) != 0 || total != 5 {
			t.Errorf("ListUsers(past the end) = %d users, total %d; want none of 5", len(got), total)
		}
	}},
	{"Update", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		other, _ := newUser(t, s)
		mine := newSession(t, s, u.ID, at(time.Hour))
		theirs := newSession(t, s, other.ID, at(time.Hour))

		changed := *u
		changed.PasswordHash, changed.Disabled = "new hash", true
		changed.Email = "ignored@example.com" // only the hash and the flag are stored
		must(t, "UpdateUser", s.UpdateUser(ctx, &changed))
		got, err := s.User(ctx, u.ID)
		must(t, "User", err)
		want := *u
		want.PasswordHash, want.Disabled = "new hash", true
		diff(t, "User after UpdateUser", &want, got)

		_, err = s.Session(ctx, mine.TokenHash)
		wantErr(t, "Session(of the updated user)", err, keygate.ErrNotFound)
		_, err = s.Session(ctx, theirs.TokenHash)
		must(t, "Session(of another user)", err)

		want.Disabled = false
		must(t, "UpdateUser(enable)", s.UpdateUser(ctx, &want))
		got, err = s.UserByEmail(ctx, u.Email)
		must(t, "UserByEmail", err)
		diff(t, "User after enabling", &want, got)

		wantErr(t, "UpdateUser(unknown)", s.UpdateUser(ctx, &keygate.User{ID: newID(), PasswordHash: "x"}), keygate.ErrNotFound)
	}},
}
