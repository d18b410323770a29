package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

func TestWorkspacesBudgetCommands(t *testing.T) {
	db := newCLIDatabase(t)
	u := []string{"--user", "alice@example.com", "--database", db}
	out := mustCLI(t, "", append([]string{"workspaces", "budget", "set", "default", "monthly", "500.25"}, u...)...)
	if !regexp.MustCompile(`^set the monthly budget of workspace [0-9a-f-]{36} to 500.25 USD\n$`).MatchString(out) {
		t.Errorf("set printed %q", out)
	}
	mustCLI(t, "", append([]string{"workspaces", "budget", "set", "default", "lifetime", "0", "--include-byok"}, u...)...)
	out = mustCLI(t, "", append([]string{"workspaces", "budget", "list", "default"}, u...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^lifetime\s+0\s+true$`).MatchString(lines[1]) || !regexp.MustCompile(`^monthly\s+500.25\s+true$`).MatchString(lines[2]) {
		t.Errorf("list:\n%s", out)
	}
	mustCLI(t, "", append([]string{"workspaces", "budget", "delete", "default", "lifetime"}, u...)...)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"workspaces", "budget", "delete", "default", "lifetime"}, "Budget not found"},
		{[]string{"workspaces", "budget", "set", "default", "yearly", "5"}, "interval must be one of"},
		{[]string{"workspaces", "budget", "set", "default", "daily", "five"}, "USD must be a number"},
		{[]string{"workspaces", "budget", "set", "default", "daily", "1e10"}, "limit_usd"},
		{[]string{"workspaces", "budget", "list", "nowhere"}, "Workspace not found"},
	} {
		if _, err := runCLI(t, "", append(tt.args, u...)...); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("keygate %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.msg)
		}
	}
}

func TestGuardrailsCommands(t *testing.T) {
	db := newCLIDatabase(t)
	u := []string{"--user", "alice@example.com", "--database", db}
	key := strings.TrimSpace(mustCLI(t, "", append([]string{"keys", "create", "--name", "k"}, u...)...))
	hash := keygate.HashSecret(key)
	out := mustCLI(t, "", append([]string{"guardrails", "create", "--name", "Team", "--allowed-models", "t/cheap,t/other",
		"--ignored-providers", "slow", "--limit-usd", "50", "--reset-interval", "monthly"}, u...)...)
	m := regexp.MustCompile(`^created guardrail ([0-9a-f-]{36})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed %q", out)
	}
	id := m[1]
	out = mustCLI(t, "", append([]string{"guardrails", "list"}, u...)...)
	if !regexp.MustCompile(`(?m)^` + id + `\s+Team\s+t/cheap,t/other\s+50\s+monthly\s+\S+Z$`).MatchString(out) {
		t.Errorf("list:\n%s", out)
	}
	if out := mustCLI(t, "", append([]string{"guardrails", "assign", id, hash}, u...)...); out != "assigned 1 keys\n" {
		t.Errorf("assign printed %q", out)
	}
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := s.KeyGuardrails(context.Background(), hash)
	s.Close()
	if err != nil || len(gs) != 1 || gs[0].ID != id || len(gs[0].AllowedModels) != 2 || gs[0].IgnoredProviders[0] != "slow" {
		t.Fatalf("stored guardrails of the key = %+v, %v", gs, err)
	}
	if out := mustCLI(t, "", append([]string{"guardrails", "unassign", id, hash}, u...)...); out != "unassigned 1 keys\n" {
		t.Errorf("unassign printed %q", out)
	}
	mustCLI(t, "", append([]string{"guardrails", "delete", id}, u...)...)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"guardrails", "delete", id}, "Guardrail not found"},
		{[]string{"guardrails", "create", "--name", "x", "--reset-interval", "yearly"}, "reset_interval"},
		{[]string{"guardrails", "create", "--name", "x", "--allowed-models", "a b"}, "allowed_models[0]"},
		{[]string{"guardrails", "create"}, "name"},
	} {
		if _, err := runCLI(t, "", append(tt.args, u...)...); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("keygate %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.msg)
		}
	}
}
