package keygate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// What a signed-in user's pages show of their own keys and apps: the key
// dashboard (/settings/keys), a key's page, the apps holding keys
// (/settings/apps) and the home page. Every figure comes from the same
// usage counters and generations that GET /api/v1/key and GET
// /api/v1/generation read.

// Key statuses, as the pages show them.
const (
	KeyActive   = "active"
	KeyDisabled = "disabled"
	KeyExpired  = "expired"
)

// ChartDays is how many UTC days a key's page charts, today included.
const ChartDays = 30

// LatestGenerations is how many of a key's generations its page lists.
const LatestGenerations = 20

// maxDashboardKeys bounds the keys a user's pages read at once.
const maxDashboardKeys = 1000

// KeyOverview is one of a user's keys with its usage, the app it was
// minted for and when it was last used.
type KeyOverview struct {
	KeyInfo
	App        *App       // the app the key was minted for; nil for keys made directly
	LastUsedAt *time.Time // the key's latest generation; nil when never used
	Status     string     // KeyActive, KeyDisabled or KeyExpired, now
}

// DaySpend is what a key spent in one UTC day, in micro-dollars (BYOK
// spending apart).
type DaySpend struct {
	Day        time.Time // 00:00 UTC
	Micros     Micros
	BYOKMicros Micros
}

// KeyActivity is a key's page: the key, its spending per UTC day over the
// last ChartDays days (oldest first, today last) and its latest
// LatestGenerations generations, newest first.
type KeyActivity struct {
	KeyOverview
	Days        []DaySpend
	Generations []*Generation
}

// AppOverview is an app that holds, or held, keys of a user.
type AppOverview struct {
	App *App
	// FirstAuthorized and LastAuthorized are the creation times of the
	// user's oldest and newest key still stored for the app.
	FirstAuthorized, LastAuthorized time.Time
	Keys                            int    // the user's keys of the app, disabled and expired ones included
	LiveKeys                        int    // of which active
	Spend                           Micros // all-time spending of those keys (BYOK apart)
}

// Overview is a user's home: their keys (every workspace, newest first),
// the apps holding them (most recently authorized first) and what the
// keys spent in the current UTC month.
type Overview struct {
	Keys       []*KeyOverview
	Apps       []*AppOverview
	MonthSpend Micros
}

// UserKeys returns every key of userID, in every workspace, disabled and
// expired ones included, newest first, with usage now, app and last use.
func (s *Service) UserKeys(ctx context.Context, userID string) ([]*KeyOverview, error) {
	keys, err := s.store.ListKeys(ctx, KeyFilter{UserID: userID, IncludeDisabled: true, Limit: maxDashboardKeys})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	apps := map[int64]*App{}
	out := make([]*KeyOverview, 0, len(keys))
	for _, k := range keys {
		o, err := s.keyOverview(ctx, k, apps)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// keyOverview adds k's usage, app (read once per id into apps) and last
// use.
func (s *Service) keyOverview(ctx context.Context, k *APIKey, apps map[int64]*App) (*KeyOverview, error) {
	info, err := s.KeyInfo(ctx, k)
	if err != nil {
		return nil, err
	}
	o := &KeyOverview{KeyInfo: *info, Status: s.keyStatus(k)}
	if k.AppID != nil {
		app, ok := apps[*k.AppID]
		if !ok {
			if app, err = s.store.App(ctx, *k.AppID); err != nil {
				return nil, fmt.Errorf("app: %w", err)
			}
			apps[*k.AppID] = app
		}
		o.App = app
	}
	last, err := s.store.KeyGenerations(ctx, k.Hash, 1)
	if err != nil {
		return nil, fmt.Errorf("key generations: %w", err)
	}
	if len(last) == 1 {
		o.LastUsedAt = &last[0].CreatedAt
	}
	return o, nil
}

func (s *Service) keyStatus(k *APIKey) string {
	switch {
	case k.Disabled:
		return KeyDisabled
	case k.Expired(s.Now()):
		return KeyExpired
	}
	return KeyActive
}

// KeyActivity returns the page of the user's key with hash. Errors:
// ENOTFOUND when there is no such key or it is another user's.
func (s *Service) KeyActivity(ctx context.Context, userID, hash string) (*KeyActivity, error) {
	k, err := s.ownKey(ctx, userID, hash)
	if err != nil {
		return nil, err
	}
	o, err := s.keyOverview(ctx, k, map[int64]*App{})
	if err != nil {
		return nil, err
	}
	a := &KeyActivity{KeyOverview: *o, Days: make([]DaySpend, ChartDays)}
	today := PeriodsAt(s.Now()).Day
	want := make([]UsageCounter, ChartDays)
	for i := range want {
		day := today.AddDate(0, 0, i-ChartDays+1)
		a.Days[i].Day = day
		want[i] = UsageCounter{KeyHash: hash, Period: PeriodDay, Start: day}
	}
	rows, err := s.store.UsageCounters(ctx, hash, want)
	if err != nil {
		return nil, fmt.Errorf("usage counters: %w", err)
	}
	for _, r := range rows {
		if i := ChartDays - 1 - int(today.Sub(r.Start.UTC())/(24*time.Hour)); r.Period == PeriodDay && i >= 0 && i < ChartDays {
			a.Days[i].Micros, a.Days[i].BYOKMicros = max(a.Days[i].Micros, r.Micros), max(a.Days[i].BYOKMicros, r.BYOKMicros)
		}
	}
	if a.Generations, err = s.store.KeyGenerations(ctx, hash, LatestGenerations); err != nil {
		return nil, fmt.Errorf("key generations: %w", err)
	}
	return a, nil
}

// Overview returns userID's home: keys, apps and this month's spending.
func (s *Service) Overview(ctx context.Context, userID string) (*Overview, error) {
	keys, err := s.UserKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	o := &Overview{Keys: keys, Apps: appsOf(keys)}
	for _, k := range keys {
		o.MonthSpend += k.Usage.Monthly
	}
	return o, nil
}

// UserApps returns the apps the user's keys were minted for, most
// recently authorized first.
func (s *Service) UserApps(ctx context.Context, userID string) ([]*AppOverview, error) {
	keys, err := s.UserKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	return appsOf(keys), nil
}

// appsOf folds keys (newest first) into their apps.
func appsOf(keys []*KeyOverview) []*AppOverview {
	var apps []*AppOverview
	byID := map[int64]*AppOverview{}
	for _, k := range keys {
		if k.App == nil {
			continue
		}
		a, ok := byID[k.App.ID]
		if !ok {
			a = &AppOverview{App: k.App, FirstAuthorized: k.Key.CreatedAt, LastAuthorized: k.Key.CreatedAt}
			byID[k.App.ID] = a
			apps = append(apps, a)
		}
		a.Keys++
		if k.Status == KeyActive {
			a.LiveKeys++
		}
		a.Spend += k.Usage.Total
		if k.Key.CreatedAt.Before(a.FirstAuthorized) {
			a.FirstAuthorized = k.Key.CreatedAt
		}
		if k.Key.CreatedAt.After(a.LastAuthorized) {
			a.LastAuthorized = k.Key.CreatedAt
		}
	}
	slices.SortStableFunc(apps, func(x, y *AppOverview) int { return y.LastAuthorized.Compare(x.LastAuthorized) })
	return apps
}

// RevokeAppKeys disables every enabled key of userID minted for the app
// appID and returns how many it disabled. Each is disabled as
// SetKeyDisabled does: one store update that the store's change feed
// announces, so every replica stops accepting the key at once. Errors:
// ENOTFOUND when the user holds no key of the app.
func (s *Service) RevokeAppKeys(ctx context.Context, userID string, appID int64) (int, error) {
	keys, err := s.store.ListKeys(ctx, KeyFilter{UserID: userID, IncludeDisabled: true, Limit: maxDashboardKeys})
	if err != nil {
		return 0, fmt.Errorf("list keys: %w", err)
	}
	held, n := false, 0
	for _, k := range keys {
		if k.AppID == nil || *k.AppID != appID {
			continue
		}
		held = true
		if k.Disabled {
			continue
		}
		if _, err := s.SetKeyDisabled(ctx, userID, k.Hash, true); err != nil && ErrorCode(err) != ENOTFOUND {
			return n, err
		}
		n++
	}
	if !held {
		return 0, Errorf(ENOTFOUND, "you hold no key of this app")
	}
	return n, nil
}

// AdminApp is an app as /admin/apps shows it: the totals of the keys
// minted for it.
type AdminApp struct {
	App *App
	AppKeyTotal
}

// AdminApps returns every app that keys were minted for, with the users
// holding them, the keys (active ones apart) and their all-time spending,
// most spent first (ties by id). Errors: EFORBIDDEN when admin is not an
// admin.
func (s *Service) AdminApps(ctx context.Context, admin *User) ([]*AdminApp, error) {
	if err := RequireAdmin(admin); err != nil {
		return nil, err
	}
	totals, err := s.store.AppKeyTotals(ctx, s.Now())
	if err != nil {
		return nil, fmt.Errorf("app key totals: %w", err)
	}
	out := make([]*AdminApp, 0, len(totals))
	for _, t := range totals {
		app, err := s.store.App(ctx, t.AppID)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		out = append(out, &AdminApp{App: app, AppKeyTotal: t})
	}
	slices.SortFunc(out, func(a, b *AdminApp) int {
		return cmp.Or(cmp.Compare(b.Micros, a.Micros), cmp.Compare(a.App.ID, b.App.ID))
	})
	return out, nil
}
