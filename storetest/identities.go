package storetest

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var identityTests = []test{
	{"LinkExisting", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		id := &keygate.Identity{Issuer: "https://idp.example", Subject: "248289761001", UserID: u.ID, Email: u.Email, CreatedAt: at(0)}
		must(t, "CreateIdentity", s.CreateIdentity(ctx, id, nil, nil))
		got, err := s.Identity(ctx, id.Issuer, id.Subject)
		must(t, "Identity", err)
		diff(t, "Identity", id, got)
		wantUTC(t, "Identity", &got.CreatedAt)
		_, err = s.Identity(ctx, "https://other.example", id.Subject)
		wantErr(t, "Identity(other issuer)", err, keygate.ErrNotFound)
		other, _ := newUser(t, s)
		again := *id
		again.UserID = other.ID
		wantErr(t, "CreateIdentity(linked already)", s.CreateIdentity(ctx, &again, nil, nil), keygate.ErrConflict)
		missing := &keygate.Identity{Issuer: id.Issuer, Subject: "x", UserID: newID(), Email: "x@example.com", CreatedAt: at(0)}
		wantErr(t, "CreateIdentity(no such user)", s.CreateIdentity(ctx, missing, nil, nil), keygate.ErrNotFound)
	}},
	{"CreateWithUser", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u := &keygate.User{ID: newID(), Email: "new@example.com", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", CreatedAt: at(time.Minute)}
		ws := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: at(time.Minute), WorkspaceSettings: defaultSettings}
		id := &keygate.Identity{Issuer: "https://idp.example", Subject: "s1", UserID: u.ID, Email: u.Email, CreatedAt: at(time.Minute)}
		must(t, "CreateIdentity(new user)", s.CreateIdentity(ctx, id, u, ws))
		got, err := s.UserByEmail(ctx, u.Email)
		must(t, "UserByEmail", err)
		diff(t, "UserByEmail", u, got)
		def, err := s.DefaultWorkspace(ctx, u.ID)
		must(t, "DefaultWorkspace", err)
		if def.ID != ws.ID {
			t.Errorf("DefaultWorkspace = %s, want %s", def.ID, ws.ID)
		}
		// The email is taken now: a second user with it links nothing.
		u2 := &keygate.User{ID: newID(), Email: u.Email, PasswordHash: u.PasswordHash, CreatedAt: at(time.Hour)}
		ws2 := &keygate.Workspace{ID: newID(), UserID: u2.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: at(time.Hour), WorkspaceSettings: defaultSettings}
		id2 := &keygate.Identity{Issuer: "https://idp.example", Subject: "s2", UserID: u2.ID, Email: u.Email, CreatedAt: at(time.Hour)}
		wantErr(t, "CreateIdentity(email taken)", s.CreateIdentity(ctx, id2, u2, ws2), keygate.ErrConflict)
		_, err = s.Identity(ctx, id2.Issuer, id2.Subject)
		wantErr(t, "Identity(of the refused create)", err, keygate.ErrNotFound)
	}},
}
