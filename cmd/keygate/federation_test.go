package main

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestFederationCLI: create prints the policy's id alone on its last line;
// list shows it with its conditions; bad flags are refused by name; delete
// removes it; jwks rotate names the new key.
func TestFederationCLI(t *testing.T) {
	db := newCLIDatabase(t)
	mustCLI(t, "correct horse battery staple\n", "users", "create", "ci@example.com", "--database", db, "--password-stdin")
	out := mustCLI(t, "", "federation", "create", "--user", "ci@example.com", "--issuer", "https://token.actions.githubusercontent.com",
		"--audience", "keygate", "--subject", "repo:octo-org/*", "--claim", "ref=refs/heads/main", "--claim", "environment=prod*",
		"--limit", "5", "--limit-reset", "daily", "--token-ttl", "10m", "--database", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	id := lines[len(lines)-1]
	if uuid.Validate(id) != nil {
		t.Fatalf("last line %q is not a policy id", id)
	}
	list := mustCLI(t, "", "federation", "list", "--database", db)
	if !strings.Contains(list, id) || !strings.Contains(list, "environment=prod*,ref=refs/heads/main") || !strings.Contains(list, "10m0s") {
		t.Errorf("list = %q", list)
	}
	if l := mustCLI(t, "", "federation", "list", "--user", "ci@example.com", "--database", db); !strings.Contains(l, id) {
		t.Errorf("list --user = %q, want %s", l, id)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"http-issuer", []string{"--issuer", "http://issuer.example", "--subject", "x"}, "issuer"},
		{"no-condition", []string{"--issuer", "https://issuer.example"}, "subject or claims"},
		{"bad-claim", []string{"--issuer", "https://issuer.example", "--claim", "noequals"}, "--claim"},
		{"twice", []string{"--issuer", "https://issuer.example", "--claim", "a=1", "--claim", "a=2"}, "twice"},
		{"ttl", []string{"--issuer", "https://issuer.example", "--subject", "x", "--token-ttl", "1h"}, "token_ttl"},
		{"limit", []string{"--issuer", "https://issuer.example", "--subject", "x", "--limit", "five"}, "--limit"},
	} {
		args := append([]string{"federation", "create", "--user", "ci@example.com", "--audience", "a", "--database", db}, tt.args...)
		if _, err := runCLI(t, "", args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one naming %s", tt.name, err, tt.want)
		}
	}
	mustCLI(t, "", "federation", "delete", id, "--database", db)
	if _, err := runCLI(t, "", "federation", "delete", id, "--database", db); err == nil {
		t.Error("deleting twice succeeded")
	}
	if l := mustCLI(t, "", "federation", "list", "--database", db); strings.Contains(l, id) {
		t.Errorf("list after delete = %q", l)
	}
	if out := mustCLI(t, "", "jwks", "rotate", "--database", db); !strings.Contains(out, "new signing key kg-") {
		t.Errorf("jwks rotate = %q", out)
	}
}
