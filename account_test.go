package keygate_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
)

// withSignup is a service over f's store and clock with the sign-up
// policy p.
func (f *fixture) withSignup(p keygate.SignupPolicy) *keygate.Service {
	cfg := keygate.DefaultConfig()
	cfg.Signup = p
	return keygate.NewService(f.store, cfg, keygate.WithClock(f.clock.Now),
		keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		keygate.WithPasswordHasher(keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}))
}

func wantErrCode(t *testing.T, call string, err error, code string) {
	t.Helper()
	if keygate.ErrorCode(err) != code {
		t.Fatalf("%s = %v, want %s", call, err, code)
	}
}

func TestFirstUserIsAdmin(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser("bob@example.com")
	if !f.user.IsAdmin || bob.IsAdmin {
		t.Errorf("IsAdmin: first user %v, second %v; want true, false", f.user.IsAdmin, bob.IsAdmin)
	}
	carol, err := f.svc.CreateAdmin(f.ctx, "carol@example.com", "correct horse battery staple")
	if err != nil || !carol.IsAdmin {
		t.Errorf("CreateAdmin = %v, %v; want an admin", carol, err)
	}
	if _, err := f.svc.AdminCreateUser(f.ctx, bob, "dave@example.com", "correct horse battery staple", false); keygate.ErrorCode(err) != keygate.EFORBIDDEN {
		t.Errorf("AdminCreateUser by a non-admin = %v, want EFORBIDDEN", err)
	}
	if _, err := f.svc.AdminSetUserDisabled(f.ctx, f.user, f.user.ID, true); keygate.ErrorCode(err) != keygate.EINVALID {
		t.Errorf("an admin disabling themselves = %v, want EINVALID", err)
	}
	if u, err := f.svc.AdminSetUserDisabled(f.ctx, f.user, bob.ID, true); err != nil || !u.Disabled {
		t.Errorf("AdminSetUserDisabled(bob) = %v, %v", u, err)
	}
}

func TestSignUpPolicy(t *testing.T) {
	f := newFixture(t)
	const pw = "correct horse battery staple"
	closed, invite, open := f.withSignup(keygate.SignupClosed), f.withSignup(keygate.SignupInvite), f.withSignup(keygate.SignupOpen)
	_, err := closed.SignUp(f.ctx, "a@example.com", pw, "")
	wantErrCode(t, "SignUp(closed)", err, keygate.EFORBIDDEN)
	_, err = invite.SignUp(f.ctx, "a@example.com", pw, "")
	wantErrCode(t, "SignUp(invite, no invite)", err, keygate.EFORBIDDEN)

	_, _, err = closed.CreateInvite(f.ctx, f.user, "")
	wantErrCode(t, "CreateInvite(closed)", err, keygate.EFORBIDDEN)
	bob := f.newUser("bob@example.com")
	_, _, err = invite.CreateInvite(f.ctx, bob, "")
	wantErrCode(t, "CreateInvite by a non-admin", err, keygate.EFORBIDDEN)
	token, link, err := invite.CreateInvite(f.ctx, f.user, "for Ann")
	if err != nil || link.Note != "for Ann" || !link.ExpiresAt.Equal(f.clock.Now().Add(keygate.InviteTTL)) {
		t.Fatalf("CreateInvite = %v, %v", link, err)
	}
	if pending, err := invite.Invites(f.ctx, f.user); err != nil || len(pending) != 1 {
		t.Fatalf("Invites = %d, %v; want 1", len(pending), err)
	}
	_, err = invite.SignUp(f.ctx, "a@example.com", "short", token)
	wantErrCode(t, "SignUp(short password)", err, keygate.EINVALID)
	_, err = invite.SignUp(f.ctx, "bob@example.com", pw, token)
	wantErrCode(t, "SignUp(taken email)", err, keygate.ECONFLICT)
	ann, err := invite.SignUp(f.ctx, "Ann@Example.com", pw, token)
	if err != nil || ann.Email != "ann@example.com" || ann.IsAdmin {
		t.Fatalf("SignUp(invite) = %v, %v", ann, err)
	}
	if _, err := invite.Login(f.ctx, "ann@example.com", pw); err != nil {
		t.Errorf("Login after SignUp = %v", err)
	}
	_, err = invite.SignUp(f.ctx, "ann2@example.com", pw, token)
	wantErrCode(t, "SignUp(reused invite)", err, keygate.EFORBIDDEN)
	if pending, _ := invite.Invites(f.ctx, f.user); len(pending) != 0 {
		t.Errorf("Invites after use = %d, want 0", len(pending))
	}

	late, _, err := invite.CreateInvite(f.ctx, f.user, "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.advance(keygate.InviteTTL)
	wantErrCode(t, "CheckLink(expired)", invite.CheckLink(f.ctx, keygate.LinkInvite, late), keygate.EFORBIDDEN)
	_, err = invite.SignUp(f.ctx, "late@example.com", pw, late)
	wantErrCode(t, "SignUp(expired invite)", err, keygate.EFORBIDDEN)

	if u, err := open.SignUp(f.ctx, "anyone@example.com", pw, ""); err != nil || u.IsAdmin {
		t.Errorf("SignUp(open) = %v, %v", u, err)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	const pw = "correct horse battery staple"
	other, _ := f.svc.Login(f.ctx, "alice@example.com", pw)
	_, err := f.svc.ChangePassword(f.ctx, f.user.ID, "wrong password", "a new password 1")
	wantErrCode(t, "ChangePassword(wrong current)", err, keygate.EINVALID)
	_, err = f.svc.ChangePassword(f.ctx, f.user.ID, pw, "short")
	wantErrCode(t, "ChangePassword(short)", err, keygate.EINVALID)
	if _, _, err := f.svc.SessionUser(f.ctx, other); err != nil {
		t.Fatal("a refused change signed the user out")
	}
	token, err := f.svc.ChangePassword(f.ctx, f.user.ID, pw, "a new password 1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.SessionUser(f.ctx, other); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("the other session after a password change = %v, want EUNAUTHORIZED", err)
	}
	if u, _, err := f.svc.SessionUser(f.ctx, token); err != nil || u.ID != f.user.ID {
		t.Errorf("the new session = %v, %v", u, err)
	}
	if _, err := f.svc.Login(f.ctx, "alice@example.com", pw); err == nil {
		t.Error("the old password still signs in")
	}
	if _, err := f.svc.Login(f.ctx, "alice@example.com", "a new password 1"); err != nil {
		t.Errorf("Login with the new password = %v", err)
	}
}

func TestPasswordReset(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser("bob@example.com")
	session, _ := f.svc.Login(f.ctx, "bob@example.com", "correct horse battery staple")
	_, _, err := f.svc.CreatePasswordReset(f.ctx, bob, f.user.ID)
	wantErrCode(t, "CreatePasswordReset by a non-admin", err, keygate.EFORBIDDEN)
	_, _, err = f.svc.CreatePasswordReset(f.ctx, f.user, "not-a-user")
	wantErrCode(t, "CreatePasswordReset(unknown user)", err, keygate.ENOTFOUND)
	token, _, err := f.svc.CreatePasswordReset(f.ctx, f.user, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantErrCode(t, "CheckLink(reset as invite)", f.svc.CheckLink(f.ctx, keygate.LinkInvite, token), keygate.EFORBIDDEN)
	if err := f.svc.CheckLink(f.ctx, keygate.LinkReset, token); err != nil {
		t.Fatalf("CheckLink(reset) = %v", err)
	}
	if u, err := f.svc.ResetPassword(f.ctx, token, "bob's new password"); err != nil || u.ID != bob.ID {
		t.Fatalf("ResetPassword = %v, %v", u, err)
	}
	if _, _, err := f.svc.SessionUser(f.ctx, session); err == nil {
		t.Error("bob's session outlived the reset")
	}
	if _, err := f.svc.Login(f.ctx, "bob@example.com", "bob's new password"); err != nil {
		t.Errorf("Login after the reset = %v", err)
	}
	_, err = f.svc.ResetPassword(f.ctx, token, "yet another password")
	wantErrCode(t, "ResetPassword(used link)", err, keygate.EFORBIDDEN)
	late, _, _ := f.svc.CreatePasswordReset(f.ctx, f.user, bob.ID)
	f.clock.advance(keygate.ResetTTL + time.Second)
	_, err = f.svc.ResetPassword(f.ctx, late, "yet another password")
	wantErrCode(t, "ResetPassword(expired link)", err, keygate.EFORBIDDEN)
}
