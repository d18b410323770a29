package server_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/browsertest"
)

// appTraffic reports traffic of three apps today (2026-03-04), of a
// loopback app and of a hidden one, and returns the ids of the three and
// the hidden one.
func appTraffic(e *env) (ids []int64, hidden int64) {
	e.t.Helper()
	apps := []keygate.Attribution{
		{Referer: "https://writer.example", Title: "Writer", Categories: "writing-assistant"},
		{Referer: "https://coder.example", Title: "Coder", Categories: "cli-agent,ide-extension"},
		{Referer: "https://painter.example", Title: "Painter <b>&", Categories: "image-gen"},
	}
	for i, tokens := range []int64{2_000, 8_000, 500} {
		e.reportApp(e.userKey, apps[i], "2026-03-04", tokens, 1)
		e.reportApp(e.userKey, apps[i], "2026-03-01", tokens/2, 1)
	}
	e.reportApp(e.userKey, keygate.Attribution{Referer: "http://localhost:8080", Title: "Local"}, "2026-03-04", 90_000, 1)
	e.reportApp(e.userKey, keygate.Attribution{Referer: "https://hidden.example", Title: "Hidden"}, "2026-03-04", 50_000, 1)
	all := append(apps, keygate.Attribution{Referer: "https://hidden.example"})
	for _, a := range all {
		id, err := e.svc.AttributeApp(context.Background(), &keygate.APIKey{}, a)
		if err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, *id)
	}
	hidden = ids[3]
	if _, err := e.svc.SetAppHidden(context.Background(), hidden, true); err != nil {
		e.t.Fatal(err)
	}
	return ids[:3], hidden
}

var appLink = regexp.MustCompile(`<a class="rank-app" href="/apps/(\d+)">([^<]*)</a>`)

func TestRankingsPage(t *testing.T) {
	e := newEnv(t)
	ids, hidden := appTraffic(e)
	for _, tt := range []struct {
		query string
		want  string // titles in order
	}{
		{"", "Coder|Writer|Painter &lt;b&gt;&amp;"},
		{"?window=today", "Coder|Writer|Painter &lt;b&gt;&amp;"},
		{"?window=week&category=coding", "Coder"},
		{"?window=month&category=productivity", "Writer"},
		{"?window=month&category=entertainment", ""},
	} {
		r := e.browse("GET", "/rankings"+tt.query, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", tt.query, r.status)
		}
		var got []string
		for _, m := range appLink.FindAllStringSubmatch(string(r.body), -1) {
			got = append(got, m[2])
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("/rankings%s: apps %q, want %q", tt.query, strings.Join(got, "|"), tt.want)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("CSP = %q", csp)
		}
		if strings.Contains(string(r.body), "Local") || strings.Contains(string(r.body), "Hidden") {
			t.Errorf("/rankings%s shows a loopback or hidden app", tt.query)
		}
	}
	// Bars: the first is 100 wide, the others in proportion.
	r := e.browse("GET", "/rankings", nil, nil)
	widths := regexp.MustCompile(`<rect width="(\d+)"`).FindAllStringSubmatch(string(r.body), -1)
	if len(widths) != 3 || widths[0][1] != "100" || widths[1][1] != "25" || widths[2][1] != "6" {
		t.Errorf("bar widths = %v, want 100, 25, 6", widths)
	}
	if r := e.browse("GET", "/rankings?window=year", nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("window=year: %d, want 400", r.status)
	}
	if r := e.browse("GET", "/rankings?category=music", nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("category=music: %d, want 400", r.status)
	}

	r = e.browse("GET", "/apps/"+itoa(ids[1]), nil, nil)
	body := string(r.body)
	if r.status != http.StatusOK || !strings.Contains(body, "Coder") || !strings.Contains(body, "https://coder.example") ||
		!strings.Contains(body, "<li>ide-extension</li>") || !strings.Contains(body, "12,000 tokens in 2 requests") ||
		!strings.Contains(body, "<td>acme/m</td><td>12,000</td><td>100%</td>") {
		t.Errorf("/apps/%d: %d\n%s", ids[1], r.status, body)
	}
	if n := strings.Count(body, `<rect class="day"`); n != keygate.AppChartDays {
		t.Errorf("%d bars in the chart, want %d", n, keygate.AppChartDays)
	}
	for _, path := range []string{"/apps/" + itoa(hidden), "/apps/9999", "/apps/x", "/apps/-1"} {
		if r := e.browse("GET", path, nil, nil); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
	loop, _ := e.svc.AttributeApp(context.Background(), &keygate.APIKey{}, keygate.Attribution{Referer: "http://localhost:8080"})
	if r := e.browse("GET", "/apps/"+itoa(*loop), nil, nil); r.status != http.StatusNotFound {
		t.Errorf("loopback app page: %d, want 404", r.status)
	}
}

// TestAppPagesInChromium: after traffic from three apps, Chromium shows
// them on /rankings in order with their bars, without JavaScript, and
// axe-core finds no serious or critical violation on /rankings and
// /apps/{id} at desktop and phone widths.
func TestAppPagesInChromium(t *testing.T) {
	e := newEnv(t)
	ids, _ := appTraffic(e)
	ctx := newBrowser(t)
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/rankings"))
	titles := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.rank-app')].map(a => a.textContent)`))
	widths := get(t, ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('svg.bar rect')].map(r => r.getBoundingClientRect().width)`))
	if strings.Join(titles, "|") != "Coder|Writer|Painter <b>&" {
		t.Errorf("titles = %q", titles)
	}
	if len(widths) != 3 || !(widths[0] > widths[1] && widths[1] > widths[2] && widths[2] > 0) {
		t.Errorf("bar widths on screen = %v, want the first the widest", widths)
	}
	browsertest.CheckPage(t, ctx, "rankings")
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/rankings?window=month&category=coding"))
	browsertest.CheckPage(t, ctx, "rankings-month-coding")
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/apps/"+itoa(ids[1])))
	h1 := get(t, ctx, chromedp.Text("h1"))
	if h1 != "Coder" {
		t.Errorf("app page h1 = %q", h1)
	}
	browsertest.CheckPage(t, ctx, "app")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
