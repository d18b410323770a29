package keygate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// ActivityDays is how many complete UTC days GET /api/v1/activity covers:
// the 30 before today.
const ActivityDays = 30

// ActivityQuery is GET /api/v1/activity's query as the client sent it
// (the official SDK's analytics.getUserActivity): every field is the raw
// parameter, "" when absent.
type ActivityQuery struct {
	Date        string // one day, YYYY-MM-DD, of the last ActivityDays
	APIKeyHash  string // only this key's requests
	UserID      string // OpenRouter's organization member; keygate's users are their own
	GroupBy     string // "" or "workspace"
	WorkspaceID string // only this workspace's requests
}

// Activity is one row of a user's activity: one UTC day, model and
// provider (and workspace, when grouped by workspace).
type Activity struct {
	Date                                                      time.Time // 00:00 UTC
	Model, Provider                                           string
	WorkspaceID                                               string // "" unless grouped by workspace
	Requests, PromptTokens, CompletionTokens, ReasoningTokens int64
	// Usage is what was charged; BYOKUsage what was charged to the BYOK
	// sums (answers paid with the user's own provider key).
	Usage, BYOKUsage Micros
}

// UserActivity returns the activity of the user with userID over the last
// ActivityDays complete UTC days, per day, model and provider, read from
// the daily rollups; rows are ordered by day, then model, provider and
// workspace. With group_by=workspace each row is also of one workspace
// (OpenRouter spec: the SDK's getUserActivity).
//
// Errors: EINVALID naming the parameter: date not a day of the last 30
// complete UTC days, group_by not "workspace", workspace_id not one of the
// user's workspaces, user_id not the user's own id (keygate has no
// organizations).
func (s *Service) UserActivity(ctx context.Context, userID string, q ActivityQuery) ([]Activity, error) {
	to := dayOf(s.Now())
	from := to.AddDate(0, 0, -ActivityDays)
	if q.Date != "" {
		d, err := parseDay("date", q.Date)
		if err != nil {
			return nil, err
		}
		if d.Before(from) || !d.Before(to) {
			return nil, Errorf(EINVALID, "date must be one of the last %d complete UTC days", ActivityDays)
		}
		from, to = d, d.AddDate(0, 0, 1)
	}
	if q.GroupBy != "" && q.GroupBy != "workspace" {
		return nil, Errorf(EINVALID, "group_by must be workspace")
	}
	if q.UserID != "" && q.UserID != userID {
		return nil, Errorf(EINVALID, "user_id must be your own: keygate has no organization accounts")
	}
	var workspaceID string
	if q.WorkspaceID != "" {
		ws, err := s.resolveWorkspace(ctx, userID, &q.WorkspaceID, "workspace_id")
		if err != nil {
			return nil, err
		}
		workspaceID = ws.ID
	}
	days, err := s.store.UserDays(ctx, userID, from, to)
	if err != nil {
		return nil, fmt.Errorf("user days: %w", err)
	}
	type ref struct {
		day                        time.Time
		model, provider, workspace string
	}
	rows := make(map[ref]*Activity)
	for _, d := range days {
		if q.APIKeyHash != "" && d.KeyHash != q.APIKeyHash || workspaceID != "" && d.WorkspaceID != workspaceID {
			continue
		}
		r := ref{d.Day, d.Model, d.Provider, ""}
		if q.GroupBy == "workspace" {
			r.workspace = d.WorkspaceID
		}
		a := rows[r]
		if a == nil {
			a = &Activity{Date: d.Day, Model: d.Model, Provider: d.Provider, WorkspaceID: r.workspace}
			rows[r] = a
		}
		a.Requests += d.Requests
		a.PromptTokens += d.PromptTokens
		a.CompletionTokens += d.CompletionTokens
		a.ReasoningTokens += d.ReasoningTokens
		a.Usage += d.Micros
		a.BYOKUsage += d.BYOKMicros
	}
	out := make([]Activity, 0, len(rows))
	for _, a := range rows {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Activity) int {
		return cmp.Or(a.Date.Compare(b.Date), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.WorkspaceID, b.WorkspaceID))
	})
	return out, nil
}
