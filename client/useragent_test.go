package client_test

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// userAgent plays the person at the browser: an HTTP client with a cookie
// jar that follows redirects, signs in on keygate's sign-in form and
// presses a button on the consent page. It sends Origin on every form, as
// browsers do, which keygate's cross-origin protection checks; the forms'
// own tokens (form_token) are read from the pages.
type userAgent struct {
	hc       *http.Client
	origin   string
	email    string
	password string
	last     *page // the page the last visit ended on
}

// page is a fetched HTML page.
type page struct {
	url    *url.URL
	status int
	header http.Header
	body   string
}

func newUserAgent(origin, email, password string) *userAgent {
	jar, _ := cookiejar.New(nil)
	return &userAgent{hc: &http.Client{Jar: jar}, origin: origin, email: email, password: password}
}

// consent opens authURL, signs in when asked, and presses decision
// ("approve" or "deny") on the consent page. The last redirect leads to the
// app's callback, whose page is returned.
func (ua *userAgent) consent(authURL, decision string) (*page, error) {
	p, err := ua.do("GET", authURL, nil)
	if err != nil {
		return nil, err
	}
	if f, ok := findForm(p, `action="/login"`); ok {
		f.values.Set("email", ua.email)
		f.values.Set("password", ua.password)
		if p, err = ua.do("POST", f.action, f.values); err != nil {
			return nil, err
		}
	}
	f, ok := findForm(p, `name="decision"`)
	if !ok {
		return p, fmt.Errorf("no consent form at %s (status %d): %.300s", p.url, p.status, p.body)
	}
	f.values.Set("decision", decision)
	return ua.do("POST", f.action, f.values)
}

// approve is consent with "approve", shaped for LoginOptions.OpenBrowser.
func (ua *userAgent) approve(authURL string) error {
	p, err := ua.consent(authURL, "approve")
	ua.last = p
	return err
}

// deny is consent with "deny", shaped for LoginOptions.OpenBrowser.
func (ua *userAgent) deny(authURL string) error {
	p, err := ua.consent(authURL, "deny")
	ua.last = p
	return err
}

func (ua *userAgent) do(method, u string, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", ua.origin)
	}
	res, err := ua.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &page{url: res.Request.URL, status: res.StatusCode, header: res.Header, body: string(b)}, nil
}

// form is an HTML form: where it posts and its hidden fields.
type form struct {
	action string
	values url.Values
}

var (
	formRe  = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	inputRe = regexp.MustCompile(`<input\b([^>]*)>`)
	attrRe  = regexp.MustCompile(`([a-z_-]+)="([^"]*)"`)
)

// findForm returns the first form of p whose markup contains marker.
func findForm(p *page, marker string) (form, bool) {
	for _, m := range formRe.FindAllStringSubmatch(p.body, -1) {
		if !strings.Contains(m[0], marker) {
			continue
		}
		action, err := p.url.Parse(attrs(m[1])["action"])
		if err != nil {
			return form{}, false
		}
		f := form{action: action.String(), values: url.Values{}}
		for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
			a := attrs(in[1])
			if a["type"] == "hidden" {
				f.values.Set(a["name"], a["value"])
			}
		}
		return f, true
	}
	return form{}, false
}

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

var errNoBrowser = errors.New("no browser here")
