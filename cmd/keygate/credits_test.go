package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// TestCreditsCommands: a grant from the CLI is refused 402 to and restored
// for a service that follows the file's changes, at once; credits show
// prints the ledger and the balance.
func TestCreditsCommands(t *testing.T) {
	db := newCLIDatabase(t)
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := keygate.NewService(s, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.DiscardHandler)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inv := svc.Invalidations()
	heard := make(chan string, 16)
	changed := inv.Changed
	inv.Changed = func(kind, id string) {
		changed(kind, id)
		heard <- kind
	}
	go s.Listen(ctx, inv)
	u, err := svc.UserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, k, err := svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Settle(ctx, nil, &keygate.Generation{KeyHash: k.Hash, Model: "m", Cost: 250_000}); err != nil {
		t.Fatal(err)
	}
	// The charge is in this process's journal; the CLI, another process,
	// sees it once committed.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Admit(ctx, k); err != nil {
		t.Fatalf("Admit before any grant: %v", err)
	}

	out := mustCLI(t, "", "credits", "grant", "--user", "alice@example.com", "--amount", "0.25", "--note", "trial", "--database", db)
	if want := "granted $0.25 to alice@example.com (grant 1); credits $0.25, used $0.25\n"; out != want {
		t.Errorf("grant printed %q, want %q", out, want)
	}
	waitFor(t, heard, keygate.ChangeCredits)
	if _, err := svc.Admit(ctx, k); keygate.ErrorCode(err) != keygate.EPAYMENT {
		t.Errorf("Admit with the balance spent = %v, want 402", err)
	}
	mustCLI(t, "", "credits", "grant", "--user", "alice@example.com", "--amount", "1", "--database", db)
	waitFor(t, heard, keygate.ChangeCredits)
	if _, err := svc.Admit(ctx, k); err != nil {
		t.Errorf("Admit after the second grant = %v", err)
	}

	out = mustCLI(t, "", "credits", "show", "--user", "alice@example.com", "--database", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "GRANT") || !strings.Contains(lines[1], "$0.25") ||
		!strings.HasSuffix(lines[1], "trial") || lines[3] != "credits: $1.25; used: $0.25" {
		t.Errorf("credits show =\n%s", out)
	}
	for _, args := range [][]string{
		{"credits", "grant", "--user", "alice@example.com", "--amount", "-1"},
		{"credits", "grant", "--user", "nobody@example.com", "--amount", "1"},
		{"credits", "grant", "--amount", "1"},
		{"credits", "show"},
	} {
		if _, err := runCLI(t, "", append(args, "--database", db)...); err == nil {
			t.Errorf("keygate %s: no error", strings.Join(args, " "))
		}
	}
}

// waitFor waits for an announcement of kind.
func waitFor(t *testing.T, heard chan string, kind string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case k := <-heard:
			if k == kind {
				return
			}
		case <-deadline:
			t.Fatalf("no %s change announced", kind)
		}
	}
}

func TestAppsHideCommand(t *testing.T) {
	db := newCLIDatabase(t)
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	app, err := s.UpsertApp(context.Background(), &keygate.App{URL: "https://chat.example", Title: "Chat", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	id := "1"
	if out := mustCLI(t, "", "apps", "hide", id, "--database", db); out != "app 1 (Chat, https://chat.example) is hidden\n" {
		t.Errorf("apps hide printed %q", out)
	}
	if a, err := s.App(context.Background(), app.ID); err != nil || !a.Hidden {
		t.Errorf("after apps hide: %+v, %v", a, err)
	}
	mustCLI(t, "", "apps", "show", id, "--database", db)
	if a, err := s.App(context.Background(), app.ID); err != nil || a.Hidden {
		t.Errorf("after apps show: %+v, %v", a, err)
	}
	for _, arg := range []string{"2", "x"} {
		if _, err := runCLI(t, "", "apps", "hide", arg, "--database", db); err == nil {
			t.Errorf("apps hide %s: no error", arg)
		}
	}
}
