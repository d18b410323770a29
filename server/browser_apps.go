package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// mountApps registers the public app pages on mux: GET /rankings and GET
// /apps/{id}. They need no sign-in and show no loopback or hidden app.
func (b *browser) mountApps(mux *http.ServeMux) {
	mux.Handle("GET /rankings", b.page(b.rankings))
	mux.Handle("GET /apps/{id}", b.page(b.appPage))
}

// appPaths are the paths mountApps serves, for the server's mux.
var appPaths = []string{"/rankings", "/apps/"}

var windowLabels = []struct{ window, tab, heading string }{
	{keygate.WindowToday, "Today", "Top apps today"},
	{keygate.WindowWeek, "This week", "Top apps this week"},
	{keygate.WindowMonth, "This month", "Top apps this month"},
}

// rankings serves GET /rankings?window=today|week|month&category=GROUP.
func (b *browser) rankings(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	window, category := q.Get("window"), q.Get("category")
	res, err := b.svc.PublicRankings(r.Context(), window, category)
	if err != nil {
		return err
	}
	if window == "" {
		window = keygate.WindowToday
	}
	link := func(win, cat string) string {
		v := url.Values{"window": {win}}
		if cat != "" {
			v.Set("category", cat)
		}
		return "/rankings?" + v.Encode()
	}
	d := web.RankingsPage{Window: fmt.Sprintf("%s to %s (UTC)", res.StartDate.Format(time.DateOnly), res.EndDate.Format(time.DateOnly))}
	if res.StartDate.Equal(res.EndDate) {
		d.Window = res.StartDate.Format(time.DateOnly) + " (UTC)"
	}
	for _, wl := range windowLabels {
		d.Tabs = append(d.Tabs, web.Link{Label: wl.tab, URL: link(wl.window, category), Current: wl.window == window})
		if wl.window == window {
			d.Heading = wl.heading
		}
	}
	d.Categories = append(d.Categories, web.Link{Label: "All", URL: link(window, ""), Current: category == ""})
	for _, g := range keygate.CategoryGroups() {
		d.Categories = append(d.Categories, web.Link{Label: strings.ToUpper(g[:1]) + g[1:], URL: link(window, g), Current: g == category})
	}
	var top int64
	if len(res.Apps) > 0 {
		top = res.Apps[0].Tokens
	}
	for _, a := range res.Apps {
		width := 1
		if top > 0 {
			width = max(1, int(a.Tokens*100/top))
		}
		d.Rows = append(d.Rows, web.RankingRow{
			Rank: a.Rank, Title: a.App.Title, URL: "/apps/" + strconv.FormatInt(a.App.ID, 10),
			Categories: strings.Join(a.App.Categories, ", "),
			Tokens:     counted(a.Tokens, "token"), Requests: counted(a.Requests, "request"), BarWidth: width,
		})
	}
	if d.Nav, err = b.navOf(r, "rankings"); err != nil {
		return err
	}
	return b.pages.Rankings(w, http.StatusOK, d)
}

// appPage serves GET /apps/{id}.
func (b *browser) appPage(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return keygate.Errorf(keygate.ENOTFOUND, "No such app")
	}
	rep, err := b.svc.PublicApp(r.Context(), id)
	if err != nil {
		return err
	}
	d := web.AppPage{
		Title: rep.App.Title, URL: rep.App.URL, Categories: rep.App.Categories,
		Tokens: counted(rep.Tokens, "token"), Requests: counted(rep.Requests, "request"),
		From: rep.Days[0].Day.Format(time.DateOnly), To: rep.Days[len(rep.Days)-1].Day.Format(time.DateOnly),
	}
	var top int64
	for _, day := range rep.Days {
		top = max(top, day.Tokens)
	}
	d.MaxLabel = thousands(top) + " tokens"
	const chartW, chartH = 300, 99 // the viewBox less the axis line
	slot := chartW / len(rep.Days)
	for i, day := range rep.Days {
		h := 0
		if top > 0 {
			h = int(day.Tokens * chartH / top)
			if day.Tokens > 0 {
				h = max(h, 1)
			}
		}
		d.Bars = append(d.Bars, web.ChartBar{X: i*slot + 1, Y: chartH - h, Width: slot - 2, Height: h,
			Label: fmt.Sprintf("%s: %s tokens", day.Day.Format(time.DateOnly), thousands(day.Tokens))})
	}
	d.ChartLabel = fmt.Sprintf("Tokens per day from %s to %s: %s in all, at most %s in a day", d.From, d.To, d.Tokens, d.MaxLabel)
	for _, m := range rep.Models {
		share := "0%"
		if rep.Tokens > 0 {
			share = strconv.FormatInt(m.Tokens*100/rep.Tokens, 10) + "%"
		}
		d.Models = append(d.Models, web.ModelRow{Model: m.Model, Tokens: thousands(m.Tokens), Requests: thousands(m.Requests), Share: share})
	}
	if d.Nav, err = b.navOf(r, ""); err != nil {
		return err
	}
	return b.pages.App(w, http.StatusOK, d)
}

// counted is n, formatted, and noun, plural unless n is 1: "1 request",
// "1,024 tokens".
func counted(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
