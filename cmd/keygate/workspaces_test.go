package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/sqlite"
)

func TestWorkspacesCreateAndList(t *testing.T) {
	db := newCLIDatabase(t)
	out := mustCLI(t, "", "workspaces", "create", "--user", "alice@example.com", "Team Space", "--database", db)
	m := regexp.MustCompile(`^created workspace team-space \(id ([0-9a-f-]{36})\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed %q", out)
	}
	mustCLI(t, "", "workspaces", "create", "--user", "alice@example.com", "Docs", "--slug", "handbook", "--description", "the handbook", "--database", db)

	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Workspace(context.Background(), m[1])
	s.Close()
	if err != nil || w.Name != "Team Space" || w.Slug != "team-space" || w.IsDefault {
		t.Fatalf("stored workspace %+v, %v", w, err)
	}

	list := mustCLI(t, "", "workspaces", "list", "--user", "alice@example.com", "--database", db)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("list:\n%s\nwant a header and 3 rows", list)
	}
	for i, re := range []string{
		`^[0-9a-f-]{36}\s+default\s+Default\s+true\s+\S+Z$`,
		`^` + m[1] + `\s+team-space\s+Team Space\s+false\s+\S+Z$`,
		`^[0-9a-f-]{36}\s+handbook\s+Docs\s+false\s+\S+Z$`,
	} {
		if !regexp.MustCompile(re).MatchString(strings.TrimRight(lines[i+1], " ")) {
			t.Errorf("row %d = %q, want to match %s", i+1, lines[i+1], re)
		}
	}
}

func TestWorkspacesCommandErrors(t *testing.T) {
	db := newCLIDatabase(t)
	mustCLI(t, "", "workspaces", "create", "--user", "alice@example.com", "Team", "--database", db)
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"slug-taken", []string{"workspaces", "create", "--user", "alice@example.com", "team"}, "already used"},
		{"default-slug-taken", []string{"workspaces", "create", "--user", "alice@example.com", "Default"}, "already used"},
		{"bad-slug", []string{"workspaces", "create", "--user", "alice@example.com", "X", "--slug", "Not OK"}, "slug"},
		{"empty-name", []string{"workspaces", "create", "--user", "alice@example.com", " "}, "name"},
		{"long-name", []string{"workspaces", "create", "--user", "alice@example.com", strings.Repeat("n", 101)}, "name"},
		{"no-name", []string{"workspaces", "create", "--user", "alice@example.com"}, "arg"},
		{"unknown-user", []string{"workspaces", "create", "--user", "nobody@example.com", "X"}, "no user"},
		{"list-unknown-user", []string{"workspaces", "list", "--user", "nobody@example.com"}, "no user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, "", append(tt.args, "--database", db)...)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want one containing %q", err, tt.msg)
			}
		})
	}
}
