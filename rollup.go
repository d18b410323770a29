package keygate

import "time"

// AppDay is the rollup of one app's generations of one UTC day and model:
// what rankings and an app's page read instead of raw events.
type AppDay struct {
	AppID    int64
	Day      time.Time // 00:00 UTC
	Model    string    // the client-facing model name (Generation.Model)
	Requests int64
	// PromptTokens and CompletionTokens are summed as the generations
	// report them; an app's ranking volume is their sum.
	PromptTokens, CompletionTokens int64
}

// UserDay is the rollup of one user's generations of one UTC day, by
// workspace, key, model and provider: what GET /api/v1/activity reads.
type UserDay struct {
	UserID                                                    string
	Day                                                       time.Time // 00:00 UTC
	WorkspaceID, KeyHash, Model, Provider                     string
	Requests, PromptTokens, CompletionTokens, ReasoningTokens int64
	// Micros is what was charged in micro-dollars, BYOKMicros what was
	// charged to the BYOK sums (Generation.BYOK), as in UsageCounter.
	Micros, BYOKMicros Micros
}

// AppTotal is one app's usage over a range of days (RollupStore.AppTotals).
type AppTotal struct {
	App      *App
	Requests int64
	Tokens   int64 // prompt + completion tokens
}

// dayOf returns 00:00 UTC of t's UTC day.
func dayOf(t time.Time) time.Time { return PeriodsAt(t).Day }

// RollupsOf returns the rollup rows that g adds to (Charge.AppDay and
// Charge.UserDay): its app's (nil when g has no app) and its user's (nil
// when g has no user), on the UTC day of g.CreatedAt.
func RollupsOf(g *Generation) (*AppDay, *UserDay) {
	day := dayOf(g.CreatedAt)
	var a *AppDay
	if g.AppID != nil {
		a = &AppDay{AppID: *g.AppID, Day: day, Model: g.Model, Requests: 1,
			PromptTokens: g.PromptTokens, CompletionTokens: g.CompletionTokens}
	}
	var u *UserDay
	if g.UserID != "" {
		u = &UserDay{UserID: g.UserID, Day: day, WorkspaceID: g.WorkspaceID, KeyHash: g.KeyHash,
			Model: g.Model, Provider: g.Provider, Requests: 1,
			PromptTokens: g.PromptTokens, CompletionTokens: g.CompletionTokens, ReasoningTokens: g.ReasoningTokens}
		if g.BYOK {
			u.BYOKMicros = g.Cost
		} else {
			u.Micros = g.Cost
		}
	}
	return a, u
}

// Add adds o's sums to d's.
func (d *AppDay) Add(o *AppDay) {
	d.Requests += o.Requests
	d.PromptTokens += o.PromptTokens
	d.CompletionTokens += o.CompletionTokens
}

// Add adds o's sums to d's.
func (d *UserDay) Add(o *UserDay) {
	d.Requests += o.Requests
	d.PromptTokens += o.PromptTokens
	d.CompletionTokens += o.CompletionTokens
	d.ReasoningTokens += o.ReasoningTokens
	d.Micros += o.Micros
	d.BYOKMicros += o.BYOKMicros
}

// accountPrefix starts the key hash of an account's usage counter.
const accountPrefix = "user:"

// AccountCounter returns the key hash under which a user's all-time
// spending is counted in the usage counters ("user:" and the user's id):
// the account's counter, which a credit balance is measured against. A
// key hash is 64 hex digits, so the two never meet.
func AccountCounter(userID string) string { return accountPrefix + userID }
