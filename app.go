package keygate

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Attribution is what a request says about the app sending it: the
// HTTP-Referer, X-OpenRouter-Title (or legacy X-Title) and
// X-OpenRouter-Categories headers. Every field is optional and a bad value
// is dropped, never fatal (OpenRouter app-attribution docs).
type Attribution struct {
	Referer    string
	Title      string
	Categories string
}

// Limits on attribution values.
const (
	maxCategories   = 10
	maxCategoryLen  = 32
	maxAppTitleRune = 100
)

// NormalizeAppURL returns the identity of an app from a URL: lower-case
// scheme and host, default port dropped, no user-info, query or fragment,
// no trailing slash. It returns "" when raw is not an absolute URL with a
// host, and reports whether the host is loopback.
func NormalizeAppURL(raw string) (norm string, loopback bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" { // most requests name no app: no URL to parse
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	// "https://:443" or "x://::": an authority without a host, or with a
	// colon that is not an IPv6 literal, names no app. Nor does a host
	// outside printable ASCII: one with bidi or zero-width characters
	// would show as another app's on the consent page; names of other
	// scripts are written in punycode, as for callback URLs.
	if host == "" || strings.Contains(host, ":") && net.ParseIP(host) == nil ||
		strings.IndexFunc(host, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return "", false
	}
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	hostport := host
	if strings.Contains(host, ":") { // IPv6 literal
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport += ":" + port
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	return scheme + "://" + hostport + path, IsLoopbackHost(host)
}

// AppFrom derives the app a request is attributed to: identified by the
// normalized HTTP-Referer, else by the callback URL. Loopback apps get the
// fixed title "host:port". It returns nil when neither URL identifies an
// app (headless codes, or no headers at all).
func AppFrom(a Attribution, callbackURL string) *App {
	norm, loopback := NormalizeAppURL(a.Referer)
	if norm == "" {
		norm, loopback = NormalizeAppURL(callbackURL)
	}
	if norm == "" {
		return nil
	}
	u, _ := url.Parse(norm)
	app := &App{URL: norm, IsLoopback: loopback, Categories: ParseCategories(a.Categories)}
	switch {
	case loopback:
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		app.Title = net.JoinHostPort(u.Hostname(), port)
	case cleanTitle(a.Title) != "":
		app.Title = cleanTitle(a.Title)
	default:
		app.Title = cleanTitle(u.Hostname())
	}
	return app
}

// ChangedBy reports whether upserting u (AppStore.UpsertApp) changes the
// stored app a: u's title when it is not empty and differs, u's
// categories when there are some and they differ. Such a change is
// announced as a ChangeApp; an upsert that changes nothing is not.
func (a *App) ChangedBy(u *App) bool {
	return u.Title != "" && u.Title != a.Title ||
		len(u.Categories) > 0 && !slices.Equal(u.Categories, a.Categories)
}

// headlessAppURL identifies the app of codes made in headless mode
// without a referer: there is no URL to identify the app by.
const headlessAppURL = "urn:keygate:headless"

// AppOf is AppFrom, or the headless app (titled "Headless sign-in") when
// neither URL identifies an app: the app every code is attributed to.
func AppOf(a Attribution, callbackURL string) *App {
	if app := AppFrom(a, callbackURL); app != nil {
		return app
	}
	return &App{URL: headlessAppURL, Title: "Headless sign-in", IsLoopback: true}
}

// Headless reports whether a is the app of headless codes (see AppOf).
func (a *App) Headless() bool { return a.URL == headlessAppURL }

// cleanTitle trims a title and cuts it to 100 runes. A title that breaks
// the text rule (CheckText: invalid UTF-8, control, format or invisible
// characters) is dropped whole, "" (attribution is never fatal): a part of
// it could read as something else.
func cleanTitle(s string) string {
	s = strings.TrimSpace(s)
	if CheckText("title", s, len(s)) != nil {
		return ""
	}
	if r := []rune(s); len(r) > maxAppTitleRune {
		s = strings.TrimSpace(string(r[:maxAppTitleRune]))
	}
	return s
}

// ParseCategories parses X-OpenRouter-Categories: comma-separated, trimmed,
// lower-cased, de-duplicated, at most 10, each [a-z0-9-]{1,32}. Entries that
// do not fit are dropped.
func ParseCategories(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		c := strings.ToLower(strings.TrimSpace(part))
		if !validCategory(c) || slices.Contains(out, c) {
			continue
		}
		out = append(out, c)
		if len(out) == maxCategories {
			break
		}
	}
	return out
}

func validCategory(c string) bool {
	if len(c) == 0 || len(c) > maxCategoryLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

// appCacheSize bounds the attributions upsertApp remembers, for codes and
// for metered requests alike: what a request's attribution headers say
// (the app's URL, title and categories as normalized) mapped to the app's
// id, so that a sign-in or a metered request writes nothing for an app
// already seen with those headers. Ids are stable and apps are never
// deleted, so an entry never goes stale; a title or categories that change
// make a new entry, and the upsert that records them.
const appCacheSize = 10_000

// boundedMap is a map safe for concurrent use that holds at most max
// entries, evicting an arbitrary one to make room: for values that never
// go stale, so that it needs no invalidation.
type boundedMap[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]V
}

func newBoundedMap[V any](max int) *boundedMap[V] {
	return &boundedMap[V]{max: max, m: make(map[string]V)}
}

func (c *boundedMap[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *boundedMap[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m { // map order is random: a cheap random eviction
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

// take returns k's value and removes it.
func (c *boundedMap[V]) take(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	delete(c.m, k)
	return v, ok
}

// clear empties the map.
func (c *boundedMap[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// AttributeApp returns the app a metered request by k is attributed to:
// the app that a's headers name (HTTP-Referer's normalized origin and
// path; title from X-OpenRouter-Title, else X-Title; categories from
// X-OpenRouter-Categories; the rules of NormalizeAppURL, AppFrom and
// ParseCategories), else the app k was minted for, nil when none.
//
// An app is created, or its title and categories updated, the first time
// this process sees those headers; after that the answer comes from
// memory, so metering writes nothing per request.
func (s *Service) AttributeApp(ctx context.Context, k *APIKey, a Attribution) (*int64, error) {
	if AppFrom(a, "") == nil {
		return k.AppID, nil
	}
	id, _, err := s.upsertApp(ctx, a, "")
	if err != nil {
		return nil, err
	}
	return &id, nil
}
