package gateway_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestCreditsThroughGateway: a user whose balance is spent gets 402 with
// OpenRouter's message and the upstream is not called; another user keeps
// working; a grant restores service at once.
func TestCreditsThroughGateway(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}) // 35 µ$
	key := e.key(nil)
	bob, err := e.svc.CreateUser(t.Context(), "bob@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	bobKey, _, err := e.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: bob.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GrantCredits(t.Context(), "alice@example.com", "0.00005", ""); err != nil { // 50 µ$
		t.Fatal(err)
	}
	for i := range 2 { // 35, then 70: the second is admitted with 15 left
		if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false)); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	before := len(e.up.Requests())
	for _, stream := range []bool{false, true} {
		r := e.post("/api/v1/chat/completions", key, chat("t/cheap", stream))
		if r.status != 402 || r.errMessage(t) != keygate.MsgInsufficientCredits {
			t.Errorf("stream %v with the balance spent: %d %s, want 402", stream, r.status, r.body)
		}
	}
	if n := len(e.up.Requests()) - before; n != 0 {
		t.Errorf("the upstream was called %d times for refused requests", n)
	}
	if r := e.post("/api/v1/chat/completions", bobKey, chat("t/cheap", false)); r.status != 200 {
		t.Errorf("another user: %d %s", r.status, r.body)
	}
	c, err := e.svc.Credits(t.Context(), e.user.ID)
	if err != nil || c.Used != 70 {
		t.Errorf("credits used = %d, %v; want 70", c.Used, err)
	}
	if _, err := e.svc.GrantCredits(t.Context(), "alice@example.com", "1", ""); err != nil {
		t.Fatal(err)
	}
	if r := e.post("/api/v1/chat/completions", key, chat("t/cheap", false)); r.status != 200 {
		t.Errorf("after a grant: %d %s", r.status, r.body)
	}
}

// TestAttributionThroughGateway: requests of three apps (by their
// HTTP-Referer) and of a loopback app rank by their tokens, today's window.
func TestAttributionThroughGateway(t *testing.T) {
	e := newEnv(t)
	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}})
	key := e.key(nil)
	for app, n := range map[string]int{"https://one.example": 1, "https://two.example/": 3, "https://three.example": 2, "http://localhost:5173": 9} {
		for range n {
			r := e.post("/api/v1/chat/completions", key, chat("t/cheap", n%2 == 0),
				"HTTP-Referer", app, "X-OpenRouter-Title", "App "+app, "X-OpenRouter-Categories", "cli-agent")
			if r.status != 200 {
				t.Fatalf("%s: %d %s", app, r.status, r.body)
			}
		}
	}
	today := e.svc.Now().Format("2006-01-02")
	rk, err := e.svc.AppRankings(context.Background(), keygate.RankingsQuery{StartDate: today, EndDate: today, Category: "coding"})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, a := range rk.Apps {
		got += fmt.Sprintf("%s=%d/%d ", a.App.URL, a.Tokens, a.Requests)
	}
	if want := "https://two.example=90/3 https://three.example=60/2 https://one.example=30/1 "; got != want {
		t.Errorf("rankings = %q, want %q", got, want)
	}
	// The public page shows them in that order, each with its bar.
	r := e.get("/rankings", "")
	rows := regexp.MustCompile(`<a class="rank-app" href="/apps/\d+">([^<]*)</a>[^<]*<span class="rank-cats">[^<]*</span>\s*<svg class="bar"[^>]*><rect width="(\d+)"`).FindAllStringSubmatch(string(r.body), -1)
	var page []string
	for _, m := range rows {
		page = append(page, m[1]+"="+m[2])
	}
	if want := "App https://two.example/=100 App https://three.example=66 App https://one.example=33"; r.status != 200 || strings.Join(page, " ") != want {
		t.Errorf("/rankings: %d, rows %q, want %q", r.status, strings.Join(page, " "), want)
	}
}
