package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var accountTests = []test{
	{"AdminFlag", func(t *testing.T, s keygate.Store) {
		u := &keygate.User{ID: newID(), Email: "admin-" + newID()[:8] + "@example.com", PasswordHash: "h", IsAdmin: true, CreatedAt: t0}
		must(t, "CreateUser", s.CreateUser(t.Context(), u, &keygate.Workspace{ID: newID(), Name: "Default", Slug: "default", CreatedAt: t0}))
		got, err := s.User(t.Context(), u.ID)
		must(t, "User", err)
		plain, _ := newUser(t, s)
		other, err := s.UserByEmail(t.Context(), plain.Email)
		must(t, "UserByEmail", err)
		if !got.IsAdmin || other.IsAdmin {
			t.Errorf("IsAdmin = %v and %v, want true for the admin and false for the other", got.IsAdmin, other.IsAdmin)
		}
	}},
	{"Links", func(t *testing.T, s keygate.Store) {
		admin, _ := newUser(t, s)
		link := func(kind string, created, expires time.Duration) *keygate.AccountLink {
			l := &keygate.AccountLink{Hash: keygate.HashSecret(newID()), Kind: kind, CreatedBy: admin.ID, Note: "for " + kind,
				CreatedAt: at(created), ExpiresAt: at(expires)}
			must(t, "CreateAccountLink", s.CreateAccountLink(t.Context(), l))
			return l
		}
		old := link(keygate.LinkInvite, 0, 48*time.Hour)
		newer := link(keygate.LinkInvite, time.Minute, 48*time.Hour)
		link(keygate.LinkInvite, 0, time.Hour) // expired at +2h
		link(keygate.LinkReset, 0, 48*time.Hour)
		got, err := s.AccountLink(t.Context(), old.Hash)
		must(t, "AccountLink", err)
		diff(t, "AccountLink", old, got)
		wantErr(t, "CreateAccountLink(same hash)", s.CreateAccountLink(t.Context(), old), keygate.ErrConflict)
		_, err = s.AccountLink(t.Context(), keygate.HashSecret("none"))
		wantErr(t, "AccountLink(unknown)", err, keygate.ErrNotFound)

		list, err := s.ListAccountLinks(t.Context(), keygate.LinkInvite, at(2*time.Hour), 10)
		must(t, "ListAccountLinks", err)
		if len(list) != 2 || list[0].Hash != newer.Hash || list[1].Hash != old.Hash {
			t.Fatalf("ListAccountLinks(invite) = %d links, want the two unexpired invites, newest first", len(list))
		}
	}},
	{"RedeemInvite", func(t *testing.T, s keygate.Store) {
		admin, _ := newUser(t, s)
		invite := &keygate.AccountLink{Hash: keygate.HashSecret(newID()), Kind: keygate.LinkInvite, CreatedBy: admin.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		must(t, "CreateAccountLink", s.CreateAccountLink(t.Context(), invite))
		user := func(email string) (*keygate.User, *keygate.Workspace) {
			return &keygate.User{ID: newID(), Email: email, PasswordHash: "h", CreatedAt: t0},
				&keygate.Workspace{ID: newID(), Name: "Default", Slug: "default", CreatedAt: t0}
		}
		// A taken email leaves the invite unused.
		u, ws := user(admin.Email)
		wantErr(t, "RedeemInvite(taken email)", s.RedeemInvite(t.Context(), invite.Hash, at(time.Minute), u, ws), keygate.ErrConflict)
		u, ws = user("new-" + newID()[:8] + "@example.com")
		must(t, "RedeemInvite", s.RedeemInvite(t.Context(), invite.Hash, at(time.Minute), u, ws))
		if _, err := s.User(t.Context(), u.ID); err != nil {
			t.Fatalf("User after RedeemInvite: %v", err)
		}
		if d, err := s.DefaultWorkspace(t.Context(), u.ID); err != nil || d.ID != ws.ID {
			t.Fatalf("DefaultWorkspace after RedeemInvite = %v, %v", d, err)
		}
		got, err := s.AccountLink(t.Context(), invite.Hash)
		must(t, "AccountLink", err)
		if got.UsedAt == nil || !got.UsedAt.Equal(at(time.Minute).Truncate(time.Microsecond)) || got.UserID != u.ID {
			t.Errorf("used invite = used %v by %q, want %v by %s", got.UsedAt, got.UserID, at(time.Minute), u.ID)
		}
		u2, ws2 := user("again-" + newID()[:8] + "@example.com")
		wantErr(t, "RedeemInvite(used)", s.RedeemInvite(t.Context(), invite.Hash, at(2*time.Minute), u2, ws2), keygate.ErrCodeUsed)
		if _, err := s.User(t.Context(), u2.ID); err == nil {
			t.Error("a used invite created a user")
		}
		expired := &keygate.AccountLink{Hash: keygate.HashSecret(newID()), Kind: keygate.LinkInvite, CreatedBy: admin.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		must(t, "CreateAccountLink", s.CreateAccountLink(t.Context(), expired))
		wantErr(t, "RedeemInvite(expired)", s.RedeemInvite(t.Context(), expired.Hash, at(time.Hour), u2, ws2), keygate.ErrCodeUsed)
		wantErr(t, "RedeemInvite(unknown)", s.RedeemInvite(t.Context(), keygate.HashSecret("x"), at(0), u2, ws2), keygate.ErrNotFound)
		// A reset link is not an invite.
		reset := &keygate.AccountLink{Hash: keygate.HashSecret(newID()), Kind: keygate.LinkReset, UserID: admin.ID, CreatedBy: admin.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		must(t, "CreateAccountLink", s.CreateAccountLink(t.Context(), reset))
		wantErr(t, "RedeemInvite(a reset link)", s.RedeemInvite(t.Context(), reset.Hash, at(0), u2, ws2), keygate.ErrNotFound)
	}},
	{"RedeemInviteConcurrent", func(t *testing.T, s keygate.Store) {
		admin, _ := newUser(t, s)
		invite := &keygate.AccountLink{Hash: keygate.HashSecret(newID()), Kind: keygate.LinkInvite, CreatedBy: admin.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		must(t, "CreateAccountLink", s.CreateAccountLink(t.Context(), invite))
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u := &keygate.User{ID: newID(), Email: "racer-" + newID()[:8] + "@example.com", PasswordHash: "h", CreatedAt: t0}
				errs[i] = s.RedeemInvite(t.Context(), invite.Hash, at(time.Minute), u, &keygate.Workspace{ID: newID(), Name: "Default", Slug: "default", CreatedAt: t0})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			default:
				wantErr(t, "RedeemInvite(lost race)", err, keygate.ErrCodeUsed)
			}
		}
		if _, total, err := s.ListUsers(t.Context(), 0, 100); won != 1 || err != nil || total != 2 {
			t.Errorf("%d of %d concurrent redemptions won, %d users; want 1 and 2", won, n, total)
		}
	}},
	{"RedeemPasswordReset", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		sess := &keygate.Session{TokenHash: keygate.HashSecret(newID()), UserID: u.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: at(time.Hour)}
		must(t, "CreateSession", s.CreateSession(t.Context(), sess, nil))
		reset := &keygate.AccountLink{Hash: keygate.HashSecret(newID()), Kind: keygate.LinkReset, UserID: u.ID, CreatedBy: u.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		must(t, "CreateAccountLink", s.CreateAccountLink(t.Context(), reset))
		got, err := s.RedeemPasswordReset(t.Context(), reset.Hash, at(time.Minute), "new-hash")
		must(t, "RedeemPasswordReset", err)
		if got.ID != u.ID || got.PasswordHash != "new-hash" {
			t.Errorf("RedeemPasswordReset = %s with %q, want %s with new-hash", got.ID, got.PasswordHash, u.ID)
		}
		if stored, _ := s.User(t.Context(), u.ID); stored.PasswordHash != "new-hash" {
			t.Errorf("stored password hash = %q, want new-hash", stored.PasswordHash)
		}
		_, err = s.Session(t.Context(), sess.TokenHash)
		wantErr(t, "Session after a password reset", err, keygate.ErrNotFound)
		_, err = s.RedeemPasswordReset(t.Context(), reset.Hash, at(2*time.Minute), "other")
		wantErr(t, "RedeemPasswordReset(used)", err, keygate.ErrCodeUsed)
		if stored, _ := s.User(t.Context(), u.ID); stored.PasswordHash != "new-hash" {
			t.Error("a used reset link changed the password")
		}
		_, err = s.RedeemPasswordReset(t.Context(), keygate.HashSecret("none"), at(0), "other")
		wantErr(t, "RedeemPasswordReset(unknown)", err, keygate.ErrNotFound)
	}},
}
