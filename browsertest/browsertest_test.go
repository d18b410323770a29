package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate/browsertest"
)

// TestAxe checks that a clean page passes and that the check can fail: an
// image without alternative text and an unlabelled input are serious
// violations.
func TestAxe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/bad":
			w.Write([]byte(`<!doctype html><html><head><title>Bad</title></head><body><main><img src="/x.png"><input type="text"></main></body></html>`))
		default:
			w.Write([]byte(`<!doctype html><html lang="en"><head><title>Good</title></head><body><main><h1>Good</h1><label for="n">Name</label><input id="n" type="text"></main></body></html>`))
		}
	}))
	defer srv.Close()
	ctx := browsertest.New(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckPage(t, ctx, "good")

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	browsertest.Axe(rec, ctx)
	if len(rec.errors) < 2 {
		t.Fatalf("axe reported %d serious violations on a page with an unlabelled input and an image without alt, want 2 or more: %q", len(rec.errors), rec.errors)
	}
}

// recorder keeps the errors reported to it instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }
