package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// runCLI runs the keygate command line with args and stdin, returning what
// it printed on stdout and its error.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// mustCLI is runCLI that fails the test on an error.
func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := runCLI(t, stdin, args...)
	if err != nil {
		t.Fatalf("keygate %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// newCLIDatabase returns a temp database holding the user alice@example.com.
func newCLIDatabase(t *testing.T) string {
	t.Helper()
	return newCLIDatabaseWith(t, "alice@example.com")
}

// newCLIDatabaseWith returns a temp database holding the user email.
func newCLIDatabaseWith(t *testing.T, email string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "keygate.db")
	mustCLI(t, "correct horse battery staple\n", "users", "create", email, "--password-stdin", "--database", db)
	return db
}

// storedKey reads a key back from the database the CLI wrote.
func storedKey(t *testing.T, db, hash string) (*keygate.APIKey, error) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Key(context.Background(), hash)
}

// listRow returns the `keys list` row of the key named name, or "".
func listRow(out, name string) string {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 1 && f[1] == name {
			return line
		}
	}
	return ""
}

func TestKeysListDisableEnableDelete(t *testing.T) {
	db := newCLIDatabase(t)
	one := strings.TrimSpace(mustCLI(t, "", "keys", "create", "--user", "alice@example.com", "--name", "one", "--limit", "5", "--limit-reset", "daily", "--database", db))
	mustCLI(t, "", "keys", "create", "--user", "alice@example.com", "--name", "two", "--expires-at", "2030-01-01T00:00:00Z", "--database", db)
	hash := keygate.HashSecret(one)

	out := mustCLI(t, "", "keys", "list", "--user", "alice@example.com", "--database", db)
	if !strings.HasPrefix(out, "HASH") || !strings.Contains(out, "EXPIRES") {
		t.Errorf("list has no header:\n%s", out)
	}
	for _, tc := range []struct{ name, re string }{
		{"one", `^` + hash[:12] + `\s+one\s+\$5\.00/daily\s+false\s+never\s*$`},
		{"two", `^[0-9a-f]{12}\s+two\s+-\s+false\s+2030-01-01T00:00:00Z\s*$`},
	} {
		if row := listRow(out, tc.name); !regexp.MustCompile(tc.re).MatchString(row) {
			t.Errorf("row of %s = %q, want to match %s", tc.name, row, tc.re)
		}
	}
	if strings.Contains(out, hash) {
		t.Errorf("list shows whole hashes without --no-trunc:\n%s", out)
	}
	if out := mustCLI(t, "", "keys", "list", "--user", "alice@example.com", "--no-trunc", "--database", db); !strings.Contains(out, hash) {
		t.Errorf("list --no-trunc lacks the whole hash:\n%s", out)
	}

	steps := []struct {
		name         string
		args         []string
		wantOut      string
		wantDisabled bool
		listed       bool // in `keys list` without --include-disabled
	}{
		{"disable", []string{"keys", "disable", hash}, "disabled key " + hash[:12] + " (one)", true, false},
		{"disable-again", []string{"keys", "disable", hash}, "disabled key", true, false},
		{"enable", []string{"keys", "enable", hash}, "enabled key " + hash[:12] + " (one)", false, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out := mustCLI(t, "", append(s.args, "--database", db)...)
			if !strings.Contains(out, s.wantOut) {
				t.Errorf("output %q, want %q", out, s.wantOut)
			}
			k, err := storedKey(t, db, hash)
			if err != nil || k.Disabled != s.wantDisabled {
				t.Fatalf("stored key: %+v, %v; want disabled %v", k, err, s.wantDisabled)
			}
			list := mustCLI(t, "", "keys", "list", "--user", "alice@example.com", "--database", db)
			if got := listRow(list, "one") != ""; got != s.listed {
				t.Errorf("listed without --include-disabled: %v, want %v\n%s", got, s.listed, list)
			}
			all := mustCLI(t, "", "keys", "list", "--user", "alice@example.com", "--include-disabled", "--database", db)
			if row := listRow(all, "one"); !strings.Contains(row, map[bool]string{true: " true ", false: " false "}[s.wantDisabled]) {
				t.Errorf("row with --include-disabled = %q, want disabled %v", row, s.wantDisabled)
			}
		})
	}

	out = mustCLI(t, "", "keys", "delete", hash, "--database", db)
	if !strings.Contains(out, "deleted key "+hash[:12]) {
		t.Errorf("delete printed %q", out)
	}
	if _, err := storedKey(t, db, hash); err == nil {
		t.Error("the deleted key is still stored")
	}
	if out := mustCLI(t, "", "keys", "list", "--user", "alice@example.com", "--include-disabled", "--database", db); listRow(out, "one") != "" {
		t.Errorf("deleted key still listed:\n%s", out)
	}
}

// TestKeysCreateDefaultName: without --name a key is named "CLI key":
// the service requires a name, as the API does.
func TestKeysCreateDefaultName(t *testing.T) {
	db := newCLIDatabase(t)
	key := strings.TrimSpace(mustCLI(t, "", "keys", "create", "--user", "alice@example.com", "--database", db))
	if k, err := storedKey(t, db, keygate.HashSecret(key)); err != nil || k.Name != "CLI key" {
		t.Fatalf("stored key = %+v, %v; want named CLI key", k, err)
	}
}

func TestKeysCommandErrors(t *testing.T) {
	db := newCLIDatabase(t)
	key := strings.TrimSpace(mustCLI(t, "", "keys", "create", "--user", "alice@example.com", "--name", "k", "--database", db))
	hash := keygate.HashSecret(key)
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"list-unknown-user", []string{"keys", "list", "--user", "nobody@example.com"}, "no user"},
		{"list-no-user", []string{"keys", "list"}, "user"},
		{"disable-prefix", []string{"keys", "disable", hash[:12]}, "64"},
		{"disable-upper-case", []string{"keys", "disable", strings.ToUpper(hash)}, "64"},
		{"disable-the-key-itself", []string{"keys", "disable", key}, "64"},
		{"enable-unknown", []string{"keys", "enable", strings.Repeat("0", 64)}, "no key"},
		{"delete-unknown", []string{"keys", "delete", strings.Repeat("0", 64)}, "no key"},
		{"delete-no-hash", []string{"keys", "delete"}, "arg"},
		{"create-blank-name", []string{"keys", "create", "--user", "alice@example.com", "--name", " "}, "name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, "", append(tt.args, "--database", db)...)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want one containing %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error message holds the key: %v", err)
			}
		})
	}
	if k, err := storedKey(t, db, hash); err != nil || k.Disabled {
		t.Errorf("after the failed commands the key is %+v, %v", k, err)
	}
}

// TestEnvironmentFlags: a subcommand reads a flag not given on the command
// line from its KEYGATE_ variable (the root's PersistentPreRunE), and a
// flag given wins over it.
func TestEnvironmentFlags(t *testing.T) {
	db := newCLIDatabase(t)
	t.Setenv("KEYGATE_DATABASE", db)
	if out := mustCLI(t, "", "users", "list"); !strings.Contains(out, "alice@example.com") {
		t.Errorf("users list with KEYGATE_DATABASE: %q, want alice", out)
	}
	other := newCLIDatabaseWith(t, "bob@example.com")
	if out := mustCLI(t, "", "users", "list", "--database", other); !strings.Contains(out, "bob@example.com") || strings.Contains(out, "alice") {
		t.Errorf("users list --database beside KEYGATE_DATABASE: %q, want bob only", out)
	}
	t.Setenv("KEYGATE_DATABASE", "postgres://")
	t.Setenv("KEYGATE_LOG_LEVEL", "loud")
	if _, err := runCLI(t, "", "serve"); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("serve with KEYGATE_LOG_LEVEL=loud: %v, want an error naming the value", err)
	}
}
