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
		for i := range 3 {
			u := &keygate.User{ID: newID(), Email: fmt.Sprintf("list-%d@example.com", i), PasswordHash: "x", CreatedAt: at(time.Duration(2-i) * time.Hour)}
			ws := &keygate.Workspace{ID: newID(), Name: "Default", Slug: "default", CreatedAt: u.CreatedAt, WorkspaceSettings: defaultSettings}
			must(t, "CreateUser", s.CreateUser(ctx, u, ws))
			want = append([]*keygate.User{u}, want...) // oldest first
		}
		for _, tt := range []struct {
			offset, limit int
			want          []*keygate.User
		}{
			{0, 0, want},
			{0, 2, want[:2]},
			{1, 0, want[1:]},
			{2, 5, want[2:]},
			{3, 1, nil},
		} {
			got, err := s.ListUsers(ctx, tt.offset, tt.limit)
			must(t, "ListUsers", err)
			diff(t, fmt.Sprintf("ListUsers(%d, %d)", tt.offset, tt.limit), tt.want, got)
		}
	}},
}
