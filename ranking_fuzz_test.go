package keygate_test

import (
	"testing"

	"github.com/keygate/keygate"
)

// FuzzAppRankingsQuery: whatever the query, AppRankings answers or refuses
// with a 400 naming a parameter, never another error; an answer's window
// starts no earlier than the floor and no later than its end, and its
// ranks follow the offset.
func FuzzAppRankingsQuery(f *testing.F) {
	f.Add("popular", "coding", "cli-agent", "2024-01-01", "2026-03-03", "100", "100")
	f.Add("trending", "", "game", "", "2025-01-01", "1", "0")
	f.Add("x", "creative", "legal", "2026-02-30", "20260303", "+1", "-0")
	fx := newFixture(f)
	rankingsHistory(f, fx)
	f.Fuzz(func(t *testing.T, sort, category, subcategory, start, end, limit, offset string) {
		q := keygate.RankingsQuery{Sort: sort, Category: category, Subcategory: subcategory,
			StartDate: start, EndDate: end, Limit: limit, Offset: offset}
		r, err := fx.svc.AppRankings(fx.ctx, q)
		if err != nil {
			if keygate.ErrorCode(err) != keygate.EINVALID {
				t.Fatalf("AppRankings(%+v) = %v, want an answer or EINVALID", q, err)
			}
			return
		}
		if r.StartDate.Before(keygate.RankingsFloor) || r.StartDate.After(r.EndDate) {
			t.Fatalf("AppRankings(%+v): window %v..%v", q, r.StartDate, r.EndDate)
		}
		for i := 1; i < len(r.Apps); i++ {
			if r.Apps[i].Rank != r.Apps[i-1].Rank+1 {
				t.Fatalf("AppRankings(%+v): ranks %d then %d", q, r.Apps[i-1].Rank, r.Apps[i].Rank)
			}
		}
	})
}
