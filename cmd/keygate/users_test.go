package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// signIn tries a password against the database the CLI wrote, through the
// service, as the sign-in form would.
func signIn(t *testing.T, db, email, password string) error {
	t.Helper()
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	quiet := slog.New(slog.DiscardHandler)
	_, err = keygate.NewService(s, keygate.DefaultConfig(), keygate.WithLogger(quiet)).Login(context.Background(), email, password)
	return err
}

// TestUsersCommands: users list shows every user and whether it is
// disabled; set-password and disable/enable change what signs in.
func TestUsersCommands(t *testing.T) {
	db := newCLIDatabase(t) // alice, "correct horse battery staple"
	mustCLI(t, "", "users", "create", "bob@example.com", "--database", db)

	out := mustCLI(t, "", "users", "list", "--database", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "EMAIL") || !strings.HasPrefix(lines[1], "alice@example.com") || !strings.HasPrefix(lines[2], "bob@example.com") {
		t.Fatalf("users list =\n%s\nwant a header, alice, then bob", out)
	}

	mustCLI(t, "a brand new passphrase\n", "users", "set-password", "alice@example.com", "--password-stdin", "--database", db)
	if err := signIn(t, db, "alice@example.com", "correct horse battery staple"); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("old password after set-password: %v, want unauthorized", err)
	}
	if err := signIn(t, db, "alice@example.com", "a brand new passphrase"); err != nil {
		t.Errorf("new password: %v", err)
	}
	gen := mustCLI(t, "", "users", "set-password", "bob@example.com", "--database", db)
	_, generated, ok := strings.Cut(gen, "password: ")
	if !ok {
		t.Fatalf("set-password without --password-stdin printed %q, want the generated password", gen)
	}
	if err := signIn(t, db, "bob@example.com", strings.TrimSpace(generated)); err != nil {
		t.Errorf("generated password: %v", err)
	}

	mustCLI(t, "", "users", "disable", "alice@example.com", "--database", db)
	for line := range strings.Lines(mustCLI(t, "", "users", "list", "--database", db)) {
		if f := strings.Fields(line); f[0] == "alice@example.com" && f[2] != "true" || f[0] == "bob@example.com" && f[2] != "false" {
			t.Errorf("users list after disabling alice: row %q", line)
		}
	}
	if err := signIn(t, db, "alice@example.com", "a brand new passphrase"); keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("disabled user signs in: %v, want unauthorized", err)
	}
	mustCLI(t, "", "users", "enable", "alice@example.com", "--database", db)
	if err := signIn(t, db, "alice@example.com", "a brand new passphrase"); err != nil {
		t.Errorf("enabled user: %v", err)
	}

	for _, args := range [][]string{
		{"users", "disable", "nobody@example.com"},
		{"users", "set-password", "nobody@example.com"},
	} {
		if _, err := runCLI(t, "", append(args, "--database", db)...); err == nil || !strings.Contains(err.Error(), "no user with this email") {
			t.Errorf("keygate %s: error %v, want no user with this email", strings.Join(args, " "), err)
		}
	}
	// The first user is an admin, and so is one created with --admin.
	if out := mustCLI(t, "", "users", "create", "carol@example.com", "--admin", "--database", db); !strings.HasPrefix(out, "created admin carol@example.com") {
		t.Errorf("users create --admin = %q, want created admin …", out)
	}
	for line := range strings.Lines(mustCLI(t, "", "users", "list", "--database", db)) {
		f := strings.Fields(line)
		if want := map[string]string{"alice@example.com": "true", "bob@example.com": "false", "carol@example.com": "true"}[f[0]]; want != "" && f[4] != want {
			t.Errorf("users list: row %q, want admin %s", line, want)
		}
	}
	if _, err := runCLI(t, "short\n", "users", "set-password", "bob@example.com", "--password-stdin", "--database", db); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("set-password with a short password: %v, want the length rule", err)
	}
}
