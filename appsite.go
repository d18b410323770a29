package keygate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Windows of the public rankings page (/rankings).
const (
	WindowToday = "today" // the UTC day so far
	WindowWeek  = "week"  // the ISO week so far (from Monday 00:00 UTC)
	WindowMonth = "month" // the UTC month so far
)

// Limits of the public pages.
const (
	PublicRankingsRows = 100 // apps on /rankings
	AppChartDays       = 30  // days of an app's chart, today included
	AppTopModels       = 5   // models listed on an app's page
)

// PublicRankings ranks the visible apps by their tokens in window (one of
// WindowToday, WindowWeek, WindowMonth; "" is WindowToday), by the rule
// of AppRankings (popular), keeping those of category (one of
// CategoryGroups, or "" for all), at most PublicRankingsRows.
//
// Errors: EINVALID naming window or category.
func (s *Service) PublicRankings(ctx context.Context, window, category string) (*Rankings, error) {
	now := s.Now()
	p := PeriodsAt(now)
	var start time.Time
	switch window {
	case "", WindowToday:
		start = p.Day
	case WindowWeek:
		start = p.Week
	case WindowMonth:
		start = p.Month
	default:
		return nil, Errorf(EINVALID, "window must be today, week or month")
	}
	if err := checkCategory(category, ""); err != nil {
		return nil, err
	}
	rows, err := s.rankApps(ctx, "popular", category, "", start, p.Day)
	if err != nil {
		return nil, err
	}
	return &Rankings{Apps: rows[:min(len(rows), PublicRankingsRows)], StartDate: start, EndDate: p.Day, AsOf: now}, nil
}

// AppReport is what an app's public page shows.
type AppReport struct {
	App *App
	// Days holds the app's usage on each of the last AppChartDays UTC
	// days, oldest first, today last; days without usage are zero.
	Days []AppDayTotal
	// Models are the app's AppTopModels models with the most tokens over
	// those days, most first (ties by name).
	Models           []AppDayTotal
	Requests, Tokens int64 // over those days
}

// AppDayTotal is the requests and tokens (prompt + completion) of one day
// or one model.
type AppDayTotal struct {
	Day      time.Time // for Days
	Model    string    // for Models
	Requests int64
	Tokens   int64
}

// PublicApp returns the public page of the app with id, read from the
// daily rollups.
//
// Errors: ENOTFOUND for an app that does not exist or never appears in
// public (loopback, headless or hidden), never saying which.
func (s *Service) PublicApp(ctx context.Context, id int64) (*AppReport, error) {
	notFound := Errorf(ENOTFOUND, "No such app")
	app, err := s.store.App(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	if app.IsLoopback || app.Hidden || app.Headless() {
		return nil, notFound
	}
	today := dayOf(s.Now())
	from := today.AddDate(0, 0, -(AppChartDays - 1))
	rows, err := s.store.AppDays(ctx, id, from, today.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("app days: %w", err)
	}
	r := &AppReport{App: app, Days: make([]AppDayTotal, AppChartDays)}
	for i := range r.Days {
		r.Days[i].Day = from.AddDate(0, 0, i)
	}
	models := map[string]*AppDayTotal{}
	for _, d := range rows {
		i := int(d.Day.Sub(from) / (24 * time.Hour))
		if i < 0 || i >= AppChartDays {
			continue
		}
		tokens := d.PromptTokens + d.CompletionTokens
		r.Days[i].Requests += d.Requests
		r.Days[i].Tokens += tokens
		r.Requests += d.Requests
		r.Tokens += tokens
		m := models[d.Model]
		if m == nil {
			m = &AppDayTotal{Model: d.Model}
			models[d.Model] = m
		}
		m.Requests += d.Requests
		m.Tokens += tokens
	}
	for _, m := range models {
		r.Models = append(r.Models, *m)
	}
	slices.SortFunc(r.Models, func(a, b AppDayTotal) int {
		return cmp.Or(cmp.Compare(b.Tokens, a.Tokens), cmp.Compare(a.Model, b.Model))
	})
	r.Models = r.Models[:min(len(r.Models), AppTopModels)]
	return r, nil
}
