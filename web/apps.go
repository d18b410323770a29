package web

import "net/http"

// Pages of the public app directory: rankings and an app's page.
const (
	pageRankings = "rankings"
	pageApp      = "app"
)

func init() { pageNames = append(pageNames, pageRankings, pageApp) }

// Link is one entry of a page's navigation: a tab or a filter.
type Link struct {
	Label   string
	URL     string // a local path with its query
	Current bool   // the entry shown now (aria-current)
}

// RankingsPage lists the most used apps of a window, each with a bar.
type RankingsPage struct {
	Nav        Nav    // the site navigation; zero when signed out
	Heading    string // e.g. "Top apps this week"
	Window     string // the period in words, e.g. "2026-03-02 to 2026-03-04 (UTC)"
	Tabs       []Link // today, this week, this month
	Categories []Link // all, then each category group
	Rows       []RankingRow
}

// RankingRow is one ranked app. Its bar is an SVG rect BarWidth units
// wide out of 100, the first app's being 100.
type RankingRow struct {
	Rank       int
	Title      string
	URL        string // the app's page, /apps/ID
	Categories string // comma-separated, "" for none
	Tokens     string // counted, e.g. "1,234,567 tokens"
	Requests   string // e.g. "1 request"
	BarWidth   int    // 1 to 100
}

// Rankings renders the rankings page.
func (p *Pages) Rankings(w http.ResponseWriter, status int, d RankingsPage) error {
	return p.render(w, status, pageRankings, d)
}

// AppPage is an app's public page: its daily tokens as an SVG chart, its
// categories and its top models.
type AppPage struct {
	Nav        Nav // the site navigation; zero when signed out
	Title      string
	URL        string // the app's URL (its identity)
	Categories []string
	Tokens     string // over the chart's days, e.g. "12,000 tokens"
	Requests   string // e.g. "2 requests"
	ChartLabel string // what the chart shows, in words, for screen readers
	// Bars are the chart's columns, oldest first, in a 300 × 100 viewBox.
	Bars     []ChartBar
	MaxLabel string // the tallest bar's tokens, formatted
	From, To string // the first and last day, YYYY-MM-DD
	Models   []ModelRow
}

// ChartBar is one day's column of an app's chart.
type ChartBar struct {
	X, Y, Width, Height int
	Label               string // e.g. "2026-03-04: 1,234 tokens"
}

// ModelRow is one of an app's top models.
type ModelRow struct {
	Model    string
	Tokens   string
	Requests string
	Share    string // of the app's tokens, e.g. "42%"
}

// App renders an app's page.
func (p *Pages) App(w http.ResponseWriter, status int, d AppPage) error {
	return p.render(w, status, pageApp, d)
}
