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

func init() {
	appTests = append(appTests, test{"AppKeyTotals", func(t *testing.T, s keygate.Store) {
		u1, ws1 := newUser(t, s)
		_, ws2 := newUser(t, s)
		app := newApp(t, s, "https://totals.example")
		other := newApp(t, s, "https://other.example")
		key := func(ws *keygate.Workspace, appID int64, disabled bool, expires *time.Time) *keygate.APIKey {
			k := keyFor(ws, t0)
			k.AppID, k.Disabled, k.ExpiresAt = &appID, disabled, expires
			must(t, "CreateKey", s.CreateKey(t.Context(), k))
			return k
		}
		a1 := key(ws1, app.ID, false, nil)
		a2 := key(ws1, app.ID, true, nil)
		a3 := key(ws2, app.ID, false, ptr(at(time.Hour)))
		key(ws2, other.ID, false, nil)
		newKey(t, s, ws1, t0) // no app
		for _, c := range []struct {
			k    *keygate.APIKey
			n, b keygate.Micros
		}{{a1, 100, 0}, {a2, 20, 5}, {a3, 3, 0}} {
			rows := keygate.Counters(c.k.Hash, keygate.PeriodsAt(t0))
			for i := range rows {
				rows[i].Micros, rows[i].BYOKMicros = c.n, c.b
			}
			_, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: &keygate.Generation{ID: "gen-" + newID(), KeyHash: c.k.Hash, UserID: u1.ID, CreatedAt: t0}, Counters: rows[:]})
			must(t, "RecordGeneration", err)
		}
		got, err := s.AppKeyTotals(t.Context(), at(2*time.Hour))
		must(t, "AppKeyTotals", err)
		byApp := map[int64]keygate.AppKeyTotal{}
		for _, r := range got {
			byApp[r.AppID] = r
		}
		// a3 expired at +1h: two of three keys are not live at +2h.
		diff(t, "AppKeyTotals(app)", keygate.AppKeyTotal{AppID: app.ID, Users: 2, Keys: 3, Live: 1, Micros: 123, BYOKMicros: 5}, byApp[app.ID])
		diff(t, "AppKeyTotals(other)", keygate.AppKeyTotal{AppID: other.ID, Users: 1, Keys: 1, Live: 1}, byApp[other.ID])
		if len(got) < 2 {
			t.Errorf("AppKeyTotals = %d rows, want the two apps", len(got))
		}
	}})
}
