package keygate_test

import (
	"testing"

	"github.com/keygate/keygate"
)

// TestUpstreamLogin: an identity signs in to its linked account; an
// unlinked one is linked by verified email only when the operator allows
// it, and gets a new account only when that is allowed; an unverified
// email never reaches an existing account.
func TestUpstreamLogin(t *testing.T) {
	const iss = "https://idp.example"
	signIn := func(f *fixture, id keygate.UpstreamIdentity, rule keygate.UpstreamAccounts) (*keygate.User, error) {
		t.Helper()
		tok, err := f.svc.UpstreamLogin(f.ctx, id, rule)
		if err != nil {
			return nil, err
		}
		u, _, err := f.svc.SessionUser(f.ctx, tok)
		if err != nil {
			t.Fatalf("SessionUser(the new session) = %v", err)
		}
		return u, nil
	}
	alice := keygate.UpstreamIdentity{Issuer: iss, Subject: "alice-sub", Email: "Alice@Example.com", EmailVerified: true}
	tests := []struct {
		name    string
		id      keygate.UpstreamIdentity
		rule    keygate.UpstreamAccounts
		want    string // "alice", "new" or an error code
		newUser bool
	}{
		{"not-linked-no-rule", alice, keygate.UpstreamAccounts{}, keygate.EFORBIDDEN, false},
		{"verified-email-linked", alice, keygate.UpstreamAccounts{LinkByEmail: true}, "alice", false},
		{"unverified-email-never-linked", keygate.UpstreamIdentity{Issuer: iss, Subject: "x", Email: "alice@example.com"},
			keygate.UpstreamAccounts{LinkByEmail: true, CreateAccounts: true}, keygate.EFORBIDDEN, false},
		{"verified-email-but-linking-off", alice, keygate.UpstreamAccounts{CreateAccounts: true}, keygate.EFORBIDDEN, false},
		{"new-email-created", keygate.UpstreamIdentity{Issuer: iss, Subject: "bob-sub", Email: "bob@example.com"},
			keygate.UpstreamAccounts{CreateAccounts: true}, "new", true},
		{"new-email-not-created", keygate.UpstreamIdentity{Issuer: iss, Subject: "bob-sub", Email: "bob@example.com", EmailVerified: true},
			keygate.UpstreamAccounts{LinkByEmail: true}, keygate.EFORBIDDEN, false},
		{"no-email", keygate.UpstreamIdentity{Issuer: iss, Subject: "anon"}, keygate.UpstreamAccounts{CreateAccounts: true, LinkByEmail: true}, keygate.EFORBIDDEN, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u, err := signIn(f, tt.id, tt.rule)
			switch tt.want {
			case "alice":
				if err != nil || u.ID != f.user.ID {
					t.Fatalf("UpstreamLogin = %v, %v; want alice's account", u, err)
				}
			case "new":
				if err != nil || u.ID == f.user.ID {
					t.Fatalf("UpstreamLogin = %v, %v; want a new account", u, err)
				}
				if _, err := f.svc.UserByEmail(f.ctx, tt.id.Email); err != nil {
					t.Errorf("the new account: %v", err)
				}
			default:
				if keygate.ErrorCode(err) != tt.want {
					t.Fatalf("UpstreamLogin = %v, %v; want %s", u, err, tt.want)
				}
				return
			}
			// Linked now: the same identity signs in to the same account
			// whatever the rule and whatever email it brings.
			again := tt.id
			again.Email, again.EmailVerified = "changed@example.com", false
			u2, err := signIn(f, again, keygate.UpstreamAccounts{})
			if err != nil || u2.ID != u.ID {
				t.Errorf("second sign-in = %v, %v; want the linked account %s", u2, err, u.ID)
			}
		})
	}
	t.Run("disabled-account", func(t *testing.T) {
		f := newFixture(t)
		if _, err := signIn(f, alice, keygate.UpstreamAccounts{LinkByEmail: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetUserDisabled(f.ctx, "alice@example.com", true); err != nil {
			t.Fatal(err)
		}
		if _, err := signIn(f, alice, keygate.UpstreamAccounts{}); keygate.ErrorCode(err) != keygate.EFORBIDDEN {
			t.Errorf("sign-in to a disabled account = %v, want forbidden", err)
		}
	})
}

// TestUpstreamLoginSignupPolicy: a first sign-in creates an account under
// the open sign-up policy whatever the provider's rule, and under closed
// or invite-only sign-up only for a provider the operator trusts for it.
func TestUpstreamLoginSignupPolicy(t *testing.T) {
	dave := keygate.UpstreamIdentity{Issuer: "https://idp.example", Subject: "dave-sub", Email: "dave@example.com", EmailVerified: true}
	for _, tt := range []struct {
		name   string
		policy keygate.SignupPolicy
		rule   keygate.UpstreamAccounts
		want   string
	}{
		{"open", keygate.SignupOpen, keygate.UpstreamAccounts{}, ""},
		{"invite", keygate.SignupInvite, keygate.UpstreamAccounts{}, keygate.EFORBIDDEN},
		{"closed", keygate.SignupClosed, keygate.UpstreamAccounts{}, keygate.EFORBIDDEN},
		{"closed-trusted-provider", keygate.SignupClosed, keygate.UpstreamAccounts{CreateAccounts: true}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.withSignup(tt.policy).UpstreamLogin(f.ctx, dave, tt.rule)
			if keygate.ErrorCode(err) != tt.want {
				t.Fatalf("UpstreamLogin under %s, %+v = %v, want %q", tt.policy, tt.rule, err, tt.want)
			}
			_, err = f.svc.UserByEmail(f.ctx, dave.Email)
			if created := err == nil; created != (tt.want == "") {
				t.Errorf("account created = %v, want %v", created, tt.want == "")
			}
		})
	}
}
