package keygate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// rankingsHistory seeds a usage history through the usage API (the
// fixture's clock is 2026-03-04 12:00 UTC) and returns the app ids by
// name. The answers of the tests below are computed by hand from it:
//
//	app    categories              window Feb 2–Mar 3      before (Nov 4–Feb 1)
//	alpha  cli-agent               1500 tokens, 2 req      3000 (mean 1000)
//	beta   roleplay,game           1500 tokens, 3 req      0
//	gamma  image-gen               900 tokens, 1 req       2700 + 10000 on Feb 1
//	delta  cli-agent,general-chat  1500 tokens, 2 req      300 (mean 100)
//	local  (loopback)              100000                  —
//	hidden (hidden by the operator) 99999                  —
//
// alpha also has 5000 tokens today (Mar 4), outside every default window.
func rankingsHistory(t testing.TB, f *fixture) map[string]int64 {
	t.Helper()
	secret, _ := f.newKey(keygate.NewKeyParams{})
	apps := map[string]keygate.Attribution{
		"alpha":  {Referer: "https://alpha.example/", Title: "Alpha", Categories: "cli-agent"},
		"beta":   {Referer: "https://beta.example", Title: "Beta", Categories: "roleplay, game"},
		"gamma":  {Referer: "https://gamma.example", Title: "Gamma", Categories: "image-gen"},
		"delta":  {Referer: "https://delta.example", Title: "Delta", Categories: "cli-agent,general-chat"},
		"local":  {Referer: "http://localhost:3000", Title: "Local"},
		"hidden": {Referer: "https://hidden.example", Title: "Hidden", Categories: "cli-agent"},
	}
	type ev struct {
		app        string
		day        string
		prompt     int64
		completion int64
	}
	evs := []ev{
		// alpha first, then delta: alpha's id is the smaller.
		{"alpha", "2026-03-03", 600, 400}, {"alpha", "2026-02-10", 500, 0}, {"alpha", "2026-01-15", 3000, 0},
		{"alpha", "2026-03-04", 5000, 0},
		{"beta", "2026-03-01", 500, 0}, {"beta", "2026-03-01", 0, 500}, {"beta", "2026-02-02", 250, 250},
		{"gamma", "2026-02-20", 900, 0}, {"gamma", "2025-12-01", 2700, 0}, {"gamma", "2026-02-01", 10000, 0},
		{"delta", "2026-03-02", 1000, 0}, {"delta", "2026-03-03", 0, 500}, {"delta", "2026-01-01", 300, 0},
		{"local", "2026-03-03", 100000, 0},
		{"hidden", "2026-03-03", 99999, 0},
	}
	var batch []keygate.UsageEvent
	for i, e := range evs {
		day, err := time.Parse(time.DateOnly, e.day)
		if err != nil {
			t.Fatal(err)
		}
		a := apps[e.app]
		cost := keygate.Micros(1)
		batch = append(batch, keygate.UsageEvent{ID: fmt.Sprintf("ev-%d", i), Key: secret, Model: "acme/m",
			PromptTokens: e.prompt, CompletionTokens: e.completion, Cost: &cost, App: &a,
			CreatedAt: day.Add(time.Duration(i) * time.Minute)})
		// One at a time, in order, so that app ids follow first use.
		rep, err := f.svc.ReportUsage(f.ctx, batch[len(batch)-1:], nil)
		if err != nil || rep.Accepted != 1 {
			t.Fatalf("ReportUsage(%s) = %+v, %v", e.app, rep, err)
		}
	}
	ids := map[string]int64{}
	for name, a := range apps {
		id, err := f.svc.AttributeApp(f.ctx, &keygate.APIKey{}, a)
		if err != nil || id == nil {
			t.Fatalf("AttributeApp(%s) = %v, %v", name, id, err)
		}
		ids[name] = *id
	}
	if _, err := f.svc.SetAppHidden(f.ctx, ids["hidden"], true); err != nil {
		t.Fatal(err)
	}
	return ids
}

// ranked renders an answer as "name:rank:tokens:requests" rows.
func ranked(r *keygate.Rankings) string {
	var rows []string
	for _, a := range r.Apps {
		rows = append(rows, fmt.Sprintf("%s:%d:%d:%d", strings.ToLower(a.App.Title), a.Rank, a.Tokens, a.Requests))
	}
	return strings.Join(rows, " ")
}

func TestAppRankings(t *testing.T) {
	f := newFixture(t)
	rankingsHistory(t, f)
	tests := []struct {
		name       string
		q          keygate.RankingsQuery
		want       string
		start, end string
	}{
		// Ties on tokens: beta has more requests; alpha and delta tie on
		// both, and alpha's app_id is the smaller.
		{"popular-defaults", keygate.RankingsQuery{}, "beta:1:1500:3 alpha:2:1500:2 delta:3:1500:2 gamma:4:900:1", "2026-02-02", "2026-03-03"},
		// beta 1500 − 0; delta 1500 − 300/3; alpha 1500 − 3000/3; gamma
		// 900 − 12700/3 < 0 is left out.
		{"trending", keygate.RankingsQuery{Sort: "trending"}, "beta:1:1500:3 delta:2:1500:2 alpha:3:1500:2", "2026-02-02", "2026-03-03"},
		{"category", keygate.RankingsQuery{Category: "coding"}, "alpha:1:1500:2 delta:2:1500:2", "2026-02-02", "2026-03-03"},
		{"subcategory", keygate.RankingsQuery{Subcategory: "general-chat"}, "delta:1:1500:2", "2026-02-02", "2026-03-03"},
		{"category-and-subcategory", keygate.RankingsQuery{Category: "entertainment", Subcategory: "game"}, "beta:1:1500:3", "2026-02-02", "2026-03-03"},
		{"offset-absolute-rank", keygate.RankingsQuery{Offset: "1", Limit: "2"}, "alpha:2:1500:2 delta:3:1500:2", "2026-02-02", "2026-03-03"},
		{"offset-past-end", keygate.RankingsQuery{Offset: "100"}, "", "2026-02-02", "2026-03-03"},
		{"limit-1", keygate.RankingsQuery{Limit: "1"}, "beta:1:1500:3", "2026-02-02", "2026-03-03"},
		{"one-day", keygate.RankingsQuery{StartDate: "2026-03-03", EndDate: "2026-03-03"}, "alpha:1:1000:1 delta:2:500:1", "2026-03-03", "2026-03-03"},
		// Today is not complete but may be asked for.
		{"today", keygate.RankingsQuery{StartDate: "2026-03-04", EndDate: "2026-03-04"}, "alpha:1:5000:1", "2026-03-04", "2026-03-04"},
		// end_date alone: the 30 days ending on it.
		{"end-date-default-start", keygate.RankingsQuery{EndDate: "2026-02-20"}, "gamma:1:10900:2 alpha:2:500:1 beta:3:500:1", "2026-01-22", "2026-02-20"},
		// start_date before the floor is moved to it.
		{"floor", keygate.RankingsQuery{StartDate: "2024-06-01", EndDate: "2025-01-05"}, "", "2025-01-01", "2025-01-05"},
		{"trending-one-day", keygate.RankingsQuery{Sort: "trending", StartDate: "2026-03-02", EndDate: "2026-03-02"}, "delta:1:1000:1", "2026-03-02", "2026-03-02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := f.svc.AppRankings(f.ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ranked(r); got != tt.want {
				t.Errorf("rows = %q, want %q", got, tt.want)
			}
			if s, e := r.StartDate.Format(time.DateOnly), r.EndDate.Format(time.DateOnly); s != tt.start || e != tt.end {
				t.Errorf("window = %s..%s, want %s..%s", s, e, tt.start, tt.end)
			}
			if !r.AsOf.Equal(f.clock.Now()) {
				t.Errorf("as_of = %v, want now", r.AsOf)
			}
		})
	}
}

func TestAppRankingsHideAndShow(t *testing.T) {
	f := newFixture(t)
	ids := rankingsHistory(t, f)
	if _, err := f.svc.SetAppHidden(f.ctx, ids["beta"], true); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.AppRankings(f.ctx, keygate.RankingsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ranked(r), "alpha:1:1500:2 delta:2:1500:2 gamma:3:900:1"; got != want {
		t.Errorf("with beta hidden: %q, want %q", got, want)
	}
	if _, err := f.svc.SetAppHidden(f.ctx, ids["hidden"], false); err != nil {
		t.Fatal(err)
	}
	r, err = f.svc.AppRankings(f.ctx, keygate.RankingsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ranked(r); !strings.HasPrefix(got, "hidden:1:99999:1 ") {
		t.Errorf("shown again: %q, want hidden first", got)
	}
	if _, err := f.svc.SetAppHidden(f.ctx, 9999, true); keygate.ErrorCode(err) != keygate.ENOTFOUND {
		t.Errorf("SetAppHidden(unknown) = %v, want ENOTFOUND", err)
	}
}

func TestAppRankingsInvalid(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		q     keygate.RankingsQuery
		field string
	}{
		{keygate.RankingsQuery{Sort: "newest"}, "sort"},
		{keygate.RankingsQuery{Category: "games"}, "category"},
		{keygate.RankingsQuery{Subcategory: "chess"}, "subcategory"},
		{keygate.RankingsQuery{Category: "entertainment", Subcategory: "cli-agent"}, "subcategory"},
		{keygate.RankingsQuery{Limit: "0"}, "limit"},
		{keygate.RankingsQuery{Limit: "101"}, "limit"},
		{keygate.RankingsQuery{Limit: "ten"}, "limit"},
		{keygate.RankingsQuery{Limit: "+5"}, "limit"},
		{keygate.RankingsQuery{Offset: "-1"}, "offset"},
		{keygate.RankingsQuery{Offset: "101"}, "offset"},
		{keygate.RankingsQuery{Offset: "1.5"}, "offset"},
		{keygate.RankingsQuery{EndDate: "2024-12-31"}, "end_date"},
		{keygate.RankingsQuery{EndDate: "2026-3-1"}, "end_date"},
		{keygate.RankingsQuery{EndDate: "2026-02-30"}, "end_date"},
		{keygate.RankingsQuery{StartDate: "yesterday"}, "start_date"},
		{keygate.RankingsQuery{StartDate: "2026-03-02", EndDate: "2026-03-01"}, "start_date"},
	} {
		_, err := f.svc.AppRankings(f.ctx, tt.q)
		if keygate.ErrorCode(err) != keygate.EINVALID || !strings.HasPrefix(keygate.ErrorMessage(err), tt.field) {
			t.Errorf("AppRankings(%+v) = %v, want EINVALID naming %s", tt.q, err, tt.field)
		}
	}
}
