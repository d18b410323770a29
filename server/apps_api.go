package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// RankingsPerMinute is how many GET /api/v1/datasets/app-rankings one key
// may ask a minute, and RankingsPerDay how many one account (all its keys)
// may ask a day (OpenRouter spec: "Rate-limited to 30 requests/minute per
// key and 500 requests/day per account"). Each is a token bucket that
// holds as many and refills evenly (a day's 500 come back one every 172.8
// s), kept by each process: N replicas allow an account N times as many.
const (
	RankingsPerMinute = 30
	RankingsPerDay    = 500
)

// appRankings returns the handler of GET /api/v1/datasets/app-rankings
// (OpenRouter getAppRankings): any valid key, RankingsPerMinute per key
// and RankingsPerDay per account (429 with Retry-After beyond, naming the
// limit); the query as keygate.AppRankings reads it.
func (s *Server) appRankings() apiHandler {
	perKey := newRateLimiter(RankingsPerMinute/60.0, RankingsPerMinute, s.svc.Now)
	perAccount := newRateLimiter(RankingsPerDay/86400.0, RankingsPerDay, s.svc.Now)
	return func(w http.ResponseWriter, r *http.Request) error {
		k, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if ok, wait := perKey.allow(k.Hash); !ok {
			return &keygate.Error{Code: keygate.ERATELIMIT, RetryAfter: wait,
				Message: fmt.Sprintf("Rate limit exceeded: %d requests a minute per key", RankingsPerMinute)}
		}
		if ok, wait := perAccount.allow(k.UserID); !ok {
			return &keygate.Error{Code: keygate.ERATELIMIT, RetryAfter: wait,
				Message: fmt.Sprintf("Rate limit exceeded: %d requests a day per account", RankingsPerDay)}
		}
		return s.writeRankings(w, r)
	}
}

// writeRankings answers a rankings request whose key was admitted.
func (s *Server) writeRankings(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	res, err := s.svc.AppRankings(r.Context(), keygate.RankingsQuery{
		Sort: q.Get("sort"), Category: q.Get("category"), Subcategory: q.Get("subcategory"),
		StartDate: q.Get("start_date"), EndDate: q.Get("end_date"), Limit: q.Get("limit"), Offset: q.Get("offset"),
	})
	if err != nil {
		return err
	}
	body := apitype.AppRankingsResponse{
		Data: make([]apitype.AppRankingsItem, len(res.Apps)),
		Meta: apitype.RankingsMeta{
			AsOf:      res.AsOf.UTC().Format("2006-01-02T15:04:05.000Z"),
			Version:   keygate.RankingsVersion,
			StartDate: res.StartDate.Format(time.DateOnly),
			EndDate:   res.EndDate.Format(time.DateOnly),
		},
	}
	for i, a := range res.Apps {
		body.Data[i] = apitype.AppRankingsItem{Rank: a.Rank, AppID: a.App.ID, AppName: a.App.Title,
			TotalTokens: strconv.FormatInt(a.Tokens, 10), TotalRequests: a.Requests}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// activity serves GET /api/v1/activity (the SDK's
// analytics.getUserActivity): a management key; the query as
// keygate.UserActivity reads it.
func (s *Server) activity(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rows, err := s.svc.UserActivity(r.Context(), key.UserID, keygate.ActivityQuery{
		Date: q.Get("date"), APIKeyHash: q.Get("api_key_hash"), UserID: q.Get("user_id"),
		GroupBy: q.Get("group_by"), WorkspaceID: q.Get("workspace_id"),
	})
	if err != nil {
		return err
	}
	body := apitype.ActivityResponse{Data: make([]apitype.ActivityItem, len(rows))}
	for i, a := range rows {
		body.Data[i] = apitype.ActivityItem{
			Date: a.Date.Format(time.DateOnly), Model: a.Model, ModelPermaslug: a.Model,
			EndpointID: a.Provider + ":" + a.Model, ProviderName: a.Provider,
			Usage: a.Usage.USD(), BYOKUsageInference: a.BYOKUsage.USD(),
			Requests: a.Requests, PromptTokens: a.PromptTokens, CompletionTokens: a.CompletionTokens,
			ReasoningTokens: a.ReasoningTokens, WorkspaceID: a.WorkspaceID,
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// credits serves GET /api/v1/credits (OpenRouter getCredits): a
// management key. An account without a balance reports
// keygate.UnlimitedCreditsUSD as total_credits.
func (s *Server) credits(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	c, err := s.svc.Credits(r.Context(), key.UserID)
	if err != nil {
		return err
	}
	total := keygate.UnlimitedCreditsUSD
	if c.Granted != nil {
		total = c.Granted.USD()
	}
	writeJSON(w, http.StatusOK, apitype.CreditsResponse{Data: apitype.Credits{TotalCredits: total, TotalUsage: c.Used.USD()}})
	return nil
}
