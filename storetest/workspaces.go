package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var workspaceTests = []test{
	{"RoundTrip", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := &keygate.Workspace{
			ID: newID(), UserID: u.ID, Name: "Research", Slug: "research",
			Description: ptr("Keys for the research agents"),
			CreatedAt:   at(time.Hour), UpdatedAt: ptr(at(2 * time.Hour)),
		}
		must(t, "CreateWorkspace", s.CreateWorkspace(t.Context(), w))
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		diff(t, "Workspace", w, got)
		wantUTC(t, "Workspace", &got.CreatedAt, got.UpdatedAt)
	}},
	{"EmptyDescriptionIsNotNil", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "E", Slug: "e", Description: ptr(""), CreatedAt: t0}
		must(t, "CreateWorkspace", s.CreateWorkspace(t.Context(), w))
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		if got.Description == nil || *got.Description != "" {
			t.Errorf("Workspace(%s).Description = %v, want pointer to \"\"", w.ID, got.Description)
		}
	}},
	{"SlugConflict", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		newWorkspace(t, s, u.ID, "team", t0)
		dup := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "Team 2", Slug: "team", CreatedAt: t0}
		wantErr(t, "CreateWorkspace(same slug)", s.CreateWorkspace(ctx, dup), keygate.ErrConflict)
		// Slugs are unique per user, not globally.
		other, _ := newUser(t, s)
		newWorkspace(t, s, other.ID, "team", t0)
	}},
	{"IDConflict", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := newWorkspace(t, s, u.ID, "a", t0)
		dup := &keygate.Workspace{ID: w.ID, UserID: u.ID, Name: "B", Slug: "b", CreatedAt: t0}
		wantErr(t, "CreateWorkspace(same id)", s.CreateWorkspace(t.Context(), dup), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		newUser(t, s)
		_, err := s.Workspace(t.Context(), newID())
		wantErr(t, "Workspace(unknown)", err, keygate.ErrNotFound)
		_, err = s.DefaultWorkspace(t.Context(), newID())
		wantErr(t, "DefaultWorkspace(unknown user)", err, keygate.ErrNotFound)
	}},
	{"List", testListWorkspaces},
	{"Update", testUpdateWorkspace},
	{"UpdateSlugConflict", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		newWorkspace(t, s, u.ID, "taken", t0)
		w := newWorkspace(t, s, u.ID, "free", t0)
		w.Slug = "taken"
		wantErr(t, "UpdateWorkspace(taken slug)", s.UpdateWorkspace(t.Context(), w), keygate.ErrConflict)
	}},
	{"UpdateMissing", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "x", Slug: "x", CreatedAt: t0}
		wantErr(t, "UpdateWorkspace(unknown)", s.UpdateWorkspace(t.Context(), w), keygate.ErrNotFound)
	}},
	{"Delete", testDeleteWorkspace},
	{"DeleteRacesCreateKey", testDeleteWorkspaceRace},
}

func testListWorkspaces(t *testing.T, s keygate.Store) {
	u, def := newUser(t, s)
	all := []*keygate.Workspace{def}
	for i := range 4 {
		all = append(all, newWorkspace(t, s, u.ID, fmt.Sprintf("ws-%d", i), at(time.Duration(i+1)*time.Minute)))
	}
	other, _ := newUser(t, s)
	newWorkspace(t, s, other.ID, "not-mine", at(time.Second))

	tests := []struct {
		name          string
		offset, limit int
		want          []*keygate.Workspace
	}{
		{"All", 0, 10, all},
		{"FirstPage", 0, 2, all[:2]},
		{"SecondPage", 2, 2, all[2:4]},
		{"LastPartial", 4, 2, all[4:]},
		{"PastEnd", 5, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.ListWorkspaces(t.Context(), u.ID, tt.offset, tt.limit)
			must(t, "ListWorkspaces", err)
			if total != len(all) {
				t.Errorf("ListWorkspaces(%d, %d) total = %d, want %d", tt.offset, tt.limit, total, len(all))
			}
			diff(t, fmt.Sprintf("ListWorkspaces(%d, %d)", tt.offset, tt.limit), tt.want, got)
		})
	}
	got, total, err := s.ListWorkspaces(t.Context(), newID(), 0, 10)
	must(t, "ListWorkspaces(unknown user)", err)
	if len(got) != 0 || total != 0 {
		t.Errorf("ListWorkspaces(unknown user) = %d workspaces, total %d; want none", len(got), total)
	}
}

func testUpdateWorkspace(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, _ := newUser(t, s)
	w := newWorkspace(t, s, u.ID, "old", t0)
	want := *w
	want.Name, want.Slug, want.Description, want.UpdatedAt = "New", "new", ptr("now described"), ptr(at(time.Hour))

	upd := want
	// Fields that UpdateWorkspace does not write.
	upd.UserID, upd.IsDefault, upd.CreatedAt = newID(), true, at(48*time.Hour)
	must(t, "UpdateWorkspace", s.UpdateWorkspace(ctx, &upd))
	got, err := s.Workspace(ctx, w.ID)
	must(t, "Workspace", err)
	diff(t, "Workspace after update", &want, got)

	// Clearing the description.
	want.Description = nil
	must(t, "UpdateWorkspace(no description)", s.UpdateWorkspace(ctx, &want))
	got, err = s.Workspace(ctx, w.ID)
	must(t, "Workspace", err)
	diff(t, "Workspace after clearing description", &want, got)
}

func testDeleteWorkspace(t *testing.T, s keygate.Store) {
	u, def := newUser(t, s)
	empty := newWorkspace(t, s, u.ID, "empty", t0)
	withKey := newWorkspace(t, s, u.ID, "with-key", t0)
	newKey(t, s, withKey, t0)
	withDisabled := newWorkspace(t, s, u.ID, "with-disabled", t0)
	k := keyFor(withDisabled, t0)
	k.Disabled = true
	must(t, "CreateKey", s.CreateKey(t.Context(), k))
	withCode := newWorkspace(t, s, u.ID, "with-code", t0)
	code := newCode(t, s, withCode)

	tests := []struct {
		name string
		id   string
		want error
	}{
		{"Empty", empty.ID, nil},
		{"PendingCodeOnly", withCode.ID, nil},
		{"HoldsKey", withKey.ID, keygate.ErrConflict},
		{"HoldsDisabledKey", withDisabled.ID, keygate.ErrConflict},
		{"Default", def.ID, keygate.ErrConflict},
		{"Missing", newID(), keygate.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.DeleteWorkspace(t.Context(), tt.id)
			wantErr(t, "DeleteWorkspace("+tt.name+")", err, tt.want)
			_, err = s.Workspace(t.Context(), tt.id)
			switch {
			case tt.want == nil || tt.want == keygate.ErrNotFound:
				wantErr(t, "Workspace(after delete)", err, keygate.ErrNotFound)
			default:
				wantErr(t, "Workspace(after refused delete)", err, nil)
			}
		})
	}
	// A code of a deleted workspace can no longer mint a key into it.
	minted := keyFor(withCode, at(time.Minute))
	if err := s.RedeemAuthCode(t.Context(), code.Hash, at(time.Minute), minted); err == nil {
		t.Errorf("RedeemAuthCode(code of deleted workspace) = nil, want an error")
	}
	_, err := s.Key(t.Context(), minted.Hash)
	wantErr(t, "Key(minted into deleted workspace)", err, keygate.ErrNotFound)
}

// testDeleteWorkspaceRace races a key into a workspace against the
// workspace's deletion: one of the two must lose, or the key would be
// orphaned.
func testDeleteWorkspaceRace(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, _ := newUser(t, s)
	for i := range 50 {
		w := newWorkspace(t, s, u.ID, fmt.Sprintf("race-%d", i), t0)
		k := keyFor(w, t0)
		var keyErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() { keyErr = s.CreateKey(ctx, k) })
		wg.Go(func() { delErr = s.DeleteWorkspace(ctx, w.ID) })
		wg.Wait()
		switch {
		case keyErr == nil && delErr == nil:
			t.Fatalf("trial %d: both CreateKey and DeleteWorkspace succeeded: key orphaned", i)
		case keyErr == nil:
			wantErr(t, "DeleteWorkspace(after key won)", delErr, keygate.ErrConflict)
		case delErr == nil:
			wantErr(t, "CreateKey(after delete won)", keyErr, keygate.ErrNotFound)
		default:
			t.Fatalf("trial %d: CreateKey = %v, DeleteWorkspace = %v; want one to succeed", i, keyErr, delErr)
		}
	}
}
