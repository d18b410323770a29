package keygate_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

const password = "correct horse battery staple"

type sessionEnv struct {
	svc  *keygate.Service
	db   *sqlite.DB
	now  time.Time
	logs *bytes.Buffer
	user *keygate.User
}

func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &sessionEnv{db: db, now: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), logs: &bytes.Buffer{}}
	cfg := keygate.DefaultConfig()
	cfg.SessionTTL = time.Hour
	hasher := keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	e.svc = keygate.NewService(db, cfg,
		keygate.WithClock(func() time.Time { return e.now }),
		keygate.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))),
		keygate.WithPasswordHasher(hasher))
	e.user, err = e.svc.CreateUser(t.Context(), "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLogin(t *testing.T) {
	e := newSessionEnv(t)
	ctx := keygate.WithClientIP(t.Context(), "192.0.2.7")
	token, err := e.svc.Login(ctx, "Alice@Example.com", password)
	if err != nil {
		t.Fatalf("Login = %v, want a session", err)
	}
	if len(token) < 43 {
		t.Errorf("token %d characters, want at least 43 (256 bits)", len(token))
	}
	stored, err := e.db.Session(ctx, keygate.HashSecret(token))
	if err != nil {
		t.Fatalf("the session is not stored under the token's hash: %v", err)
	}
	if stored.UserID != e.user.ID || !stored.ExpiresAt.Equal(e.now.Add(time.Hour)) || len(stored.CSRFToken) < 43 {
		t.Errorf("stored session = %+v, want user %s, expiry in 1h and a form token", stored, e.user.ID)
	}
	if _, err := e.db.Session(ctx, token); err == nil {
		t.Error("the token itself is a session key; want only its hash stored")
	}
	u, sess, err := e.svc.SessionUser(ctx, token)
	if err != nil || u.ID != e.user.ID || sess.CSRFToken != stored.CSRFToken {
		t.Fatalf("SessionUser = %v, %v, %v; want alice and the stored session", u, sess, err)
	}
	events, err := e.db.ListAudit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].Action != keygate.AuditLoginSucceeded || events[0].ActorUserID != e.user.ID || events[0].ClientIP != "192.0.2.7" {
		t.Errorf("latest audit event = %+v, want %s by alice from 192.0.2.7", events[0], keygate.AuditLoginSucceeded)
	}
	if strings.Contains(e.logs.String(), token) || strings.Contains(e.logs.String(), password) {
		t.Error("the logs hold the session token or the password")
	}
}

func TestLoginFailures(t *testing.T) {
	tests := []struct {
		name, email, password string
	}{
		{"wrong-password", "alice@example.com", "wrong horse battery staple"},
		{"unknown-email", "bob@example.com", password},
		{"malformed-email", "not an email", password},
		{"empty", "", ""},
		{"password-too-long", "alice@example.com", strings.Repeat("p", keygate.MaxPasswordLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSessionEnv(t)
			ctx := keygate.WithClientIP(t.Context(), "192.0.2.9")
			token, err := e.svc.Login(ctx, tt.email, tt.password)
			if err == nil || token != "" {
				t.Fatalf("Login(%q) = %q, %v; want an error", tt.email, token, err)
			}
			if code, msg := keygate.ErrorCode(err), keygate.ErrorMessage(err); code != keygate.EUNAUTHORIZED || msg != "Wrong email or password" {
				t.Errorf("error = %s %q, want unauthorized %q", code, msg, "Wrong email or password")
			}
			events, err := e.db.ListAudit(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Action != keygate.AuditLoginFailed || events[0].ClientIP != "192.0.2.9" || events[0].ActorUserID != "" {
				t.Fatalf("audit = %+v, want one %s event from 192.0.2.9 naming no user", events, keygate.AuditLoginFailed)
			}
			if d := events[0].Detail; strings.Contains(d, tt.email) && tt.email != "" || strings.Contains(d, "password was") || strings.Contains(d, "unknown") {
				t.Errorf("audit detail %q tells which credential was wrong", d)
			}
			if strings.Contains(e.logs.String(), tt.password) && tt.password != "" {
				t.Error("the logs hold the password")
			}
		})
	}
}

func TestSessionUser(t *testing.T) {
	e := newSessionEnv(t)
	ctx := context.Background()
	token, err := e.svc.Login(ctx, "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "not-a-session", token + "x"} {
		if _, _, err := e.svc.SessionUser(ctx, tok); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
			t.Errorf("SessionUser(%q) = %v, want unauthorized", tok, err)
		}
	}

	e.now = e.now.Add(time.Hour - time.Second)
	if _, _, err := e.svc.SessionUser(ctx, token); err != nil {
		t.Fatalf("a second before expiry: SessionUser = %v, want the user", err)
	}
	e.now = e.now.Add(time.Second)
	if _, _, err := e.svc.SessionUser(ctx, token); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Fatalf("at expiry: SessionUser = %v, want unauthorized", err)
	}
	if _, err := e.db.Session(ctx, keygate.HashSecret(token)); err == nil {
		t.Error("an expired session is still stored after SessionUser saw it")
	}
}

func TestLogout(t *testing.T) {
	e := newSessionEnv(t)
	ctx := context.Background()
	token, err := e.svc.Login(ctx, "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.Login(ctx, "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, token); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	if _, _, err := e.svc.SessionUser(ctx, token); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("after Logout: SessionUser = %v, want unauthorized", err)
	}
	if _, _, err := e.svc.SessionUser(ctx, other); err != nil {
		t.Errorf("Logout ended another session of the same user: %v", err)
	}
	for _, tok := range []string{token, "", "never-issued"} {
		if err := e.svc.Logout(ctx, tok); err != nil {
			t.Errorf("Logout(%q) again = %v, want nil", tok, err)
		}
	}
}

// TestLoginBackoff: five failures in a row are free; from the sixth on,
// the email waits 1 s, 2 s, 4 s… before the next attempt is checked at all,
// even with the right password; the wait is per email (another email and
// an unknown one are counted alike), and a success clears it.
func TestLoginBackoff(t *testing.T) {
	e := newSessionEnv(t)
	ctx := t.Context()
	login := func(email, pw string) error {
		_, err := e.svc.Login(ctx, email, pw)
		return err
	}
	for i := range 6 {
		if err := login("alice@example.com", "wrong"); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
			t.Fatalf("failure %d = %v, want unauthorized", i+1, err)
		}
	}
	wantWait := func(email string, want time.Duration) {
		t.Helper()
		err := login(email, password)
		e2, ok := errors.AsType[*keygate.Error](err)
		if !ok || e2.Code != keygate.ERATELIMIT || e2.RetryAfter != want {
			t.Fatalf("Login(%s) in back-off = %v, want rate_limited with RetryAfter %v", email, err, want)
		}
	}
	wantWait("alice@example.com", time.Second)
	wantWait("Alice@Example.com ", time.Second)
	if err := login("bob@example.com", password); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Fatalf("another email during alice's back-off = %v, want unauthorized (no back-off)", err)
	}
	e.now = e.now.Add(time.Second)
	if err := login("alice@example.com", "wrong"); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Fatalf("7th failure = %v, want unauthorized", err)
	}
	wantWait("alice@example.com", 2*time.Second)
	e.now = e.now.Add(2 * time.Second)
	if err := login("alice@example.com", password); err != nil {
		t.Fatalf("right password after the wait = %v", err)
	}
	// A success starts the count again: five more failures are free.
	for i := range 5 {
		if err := login("alice@example.com", "wrong"); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
			t.Fatalf("failure %d after a success = %v, want unauthorized", i+1, err)
		}
	}
	if err := login("alice@example.com", password); err != nil {
		t.Fatalf("right password after 5 failures = %v", err)
	}
	// An unknown email backs off like a real one.
	for range 6 {
		login("nobody@example.com", "wrong")
	}
	wantWait("nobody@example.com", time.Second)
}
