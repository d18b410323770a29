package keygate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Rankings limits (OpenRouter spec path GET /datasets/app-rankings).
const (
	DefaultRankingsLimit = 50
	MaxRankingsLimit     = 100
	MaxRankingsOffset    = 100
	// RankingsWindowDays is the default window: the 30 days ending on
	// end_date, both included (the spec's example answers start_date
	// 2026-04-12 for end_date 2026-05-11).
	RankingsWindowDays = 30
	// RankingsVersion is the dataset's version, meta.version.
	RankingsVersion = "v1"
)

// RankingsFloor is the first day of the dataset: an earlier start_date is
// moved forward to it and an earlier end_date is refused (the spec's
// 2025-01-01).
var RankingsFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// RankingsQuery is GET /api/v1/datasets/app-rankings's query, as the
// client sent it: every field is the raw query parameter, "" when absent.
type RankingsQuery struct {
	Sort, Category, Subcategory, StartDate, EndDate, Limit, Offset string
}

// Rankings is the answer: the apps of the page, ranked, and the window
// resolved.
type Rankings struct {
	Apps               []RankedApp
	StartDate, EndDate time.Time // 00:00 UTC of the first and last day, both included
	AsOf               time.Time
}

// RankedApp is one row of Rankings.
type RankedApp struct {
	Rank     int // 1-based and absolute: the first row of offset 50 is rank 51
	App      *App
	Requests int64
	Tokens   int64 // prompt + completion tokens in the window
}

// AppRankings ranks the apps by their tokens (prompt + completion) in a
// window of UTC days, read from the daily rollups: its cost grows with the
// days, apps and models of the window, never with the number of requests.
// Loopback and hidden apps never appear. The rules are OpenRouter's (spec
// path GET /datasets/app-rankings):
//
//   - sort: "popular" (default) ranks by the window's tokens; "trending"
//     by the window's tokens minus the mean of the three equal windows
//     just before it, leaving out apps whose excess is not above 0.
//   - category: one of CategoryGroups, keeping apps tagged with a
//     subcategory of it; subcategory: one of the subcategories, keeping
//     apps tagged with it, and when both are given the subcategory must
//     be in the category. Ranks count the apps that pass the filter.
//   - end_date: YYYY-MM-DD, the last day included; default the last
//     complete UTC day; before 2025-01-01 is refused. start_date: the
//     first day included; default 29 days before end_date (30 days in
//     all); before 2025-01-01 it is moved forward to that day; after
//     end_date is refused.
//   - limit 1 to 100 (default 50); offset 0 to 100 (default 0).
//
// Ties are broken by a rule of keygate's: the larger window tokens, then
// the more requests, then the smaller app_id.
//
// Errors: EINVALID naming the parameter.
func (s *Service) AppRankings(ctx context.Context, q RankingsQuery) (*Rankings, error) {
	now := s.Now()
	sort := cmp.Or(q.Sort, "popular")
	if sort != "popular" && sort != "trending" {
		return nil, Errorf(EINVALID, "sort must be popular or trending")
	}
	if err := checkCategory(q.Category, q.Subcategory); err != nil {
		return nil, err
	}
	limit, err := intParam("limit", q.Limit, DefaultRankingsLimit, 1, MaxRankingsLimit)
	if err != nil {
		return nil, err
	}
	offset, err := intParam("offset", q.Offset, 0, 0, MaxRankingsOffset)
	if err != nil {
		return nil, err
	}
	end := dayOf(now).AddDate(0, 0, -1)
	if q.EndDate != "" {
		if end, err = parseDay("end_date", q.EndDate); err != nil {
			return nil, err
		}
		if end.Before(RankingsFloor) {
			return nil, Errorf(EINVALID, "end_date must be on or after %s", RankingsFloor.Format(time.DateOnly))
		}
	}
	start := end.AddDate(0, 0, -(RankingsWindowDays - 1))
	if q.StartDate != "" {
		if start, err = parseDay("start_date", q.StartDate); err != nil {
			return nil, err
		}
		if start.After(end) {
			return nil, Errorf(EINVALID, "start_date must be on or before end_date")
		}
	}
	start = maxTime(start, RankingsFloor)
	rows, err := s.rankApps(ctx, sort, q.Category, q.Subcategory, start, end)
	if err != nil {
		return nil, err
	}
	r := &Rankings{StartDate: start, EndDate: end, AsOf: now}
	if offset < len(rows) {
		r.Apps = rows[offset:min(len(rows), offset+limit)]
	}
	return r, nil
}

// rankApps returns every visible app of the filter ranked in the days
// [start, end], both included.
func (s *Service) rankApps(ctx context.Context, sort, category, subcategory string, start, end time.Time) ([]RankedApp, error) {
	to := end.AddDate(0, 0, 1)
	totals, err := s.store.AppTotals(ctx, start, to)
	if err != nil {
		return nil, fmt.Errorf("app totals: %w", err)
	}
	var rows []RankedApp
	for _, t := range totals {
		if t.App.IsLoopback || t.App.Hidden || t.App.Headless() || !inCategory(t.App.Categories, category, subcategory) {
			continue
		}
		rows = append(rows, RankedApp{App: t.App, Requests: t.Requests, Tokens: t.Tokens})
	}
	if sort == "trending" {
		days := int(to.Sub(start) / (24 * time.Hour))
		before, err := s.store.AppTotals(ctx, start.AddDate(0, 0, -3*days), start)
		if err != nil {
			return nil, fmt.Errorf("app totals: %w", err)
		}
		prev := make(map[int64]int64, len(before))
		for _, t := range before {
			prev[t.App.ID] = t.Tokens
		}
		// Exact in integers: 3 × (window − mean of three) = 3 × window − sum.
		rows = slices.DeleteFunc(rows, func(r RankedApp) bool { return 3*r.Tokens-prev[r.App.ID] <= 0 })
		slices.SortFunc(rows, func(a, b RankedApp) int {
			return cmp.Or(cmp.Compare(3*b.Tokens-prev[b.App.ID], 3*a.Tokens-prev[a.App.ID]), tieBreak(a, b))
		})
	} else {
		slices.SortFunc(rows, tieBreak)
	}
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows, nil
}

// tieBreak orders apps by tokens, then requests, both descending, then by
// app_id ascending: the documented order of equal rankings.
func tieBreak(a, b RankedApp) int {
	return cmp.Or(cmp.Compare(b.Tokens, a.Tokens), cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.App.ID, b.App.ID))
}

// checkCategory checks a category group and subcategory filter.
func checkCategory(category, subcategory string) error {
	if category != "" && categoryGroups[category] == nil {
		return Errorf(EINVALID, "category must be one of coding, creative, productivity, entertainment")
	}
	if subcategory == "" {
		return nil
	}
	group := CategoryOf(subcategory)
	if group == "" {
		return Errorf(EINVALID, "subcategory is not a known subcategory")
	}
	if category != "" && category != group {
		return Errorf(EINVALID, "subcategory %s is not in category %s", subcategory, category)
	}
	return nil
}

// intParam parses a query parameter that is an integer from lo to hi,
// def when it is "".
func intParam(name, raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi || raw[0] == '+' {
		return 0, Errorf(EINVALID, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// parseDay parses a YYYY-MM-DD UTC day.
func parseDay(name, raw string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, raw)
	if err != nil || len(raw) != len(time.DateOnly) {
		return time.Time{}, Errorf(EINVALID, "%s must be a date YYYY-MM-DD", name)
	}
	return d, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// SetAppHidden hides the app with id from rankings and public pages, or
// shows it again; its usage is metered as before. It returns the app.
//
// Errors: ENOTFOUND when there is no such app.
func (s *Service) SetAppHidden(ctx context.Context, id int64, hidden bool) (*App, error) {
	a, err := s.store.SetAppHidden(ctx, id, hidden)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "no app with id %d", id)
	} else if err != nil {
		return nil, fmt.Errorf("set app hidden: %w", err)
	}
	action := AuditAppShown
	if hidden {
		action = AuditAppHidden
	}
	s.audit(ctx, AuditEvent{Action: action, AppID: &a.ID})
	return a, nil
}
