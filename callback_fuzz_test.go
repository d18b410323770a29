package keygate_test

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keygate/keygate"
)

// FuzzCheckCallbackURL: CheckCallbackURL never panics, and every URL it
// accepts keeps the promises of its doc comment: at most 2,048 bytes,
// valid UTF-8 without whitespace or control characters, absolute with a
// non-empty host, no user-info, no fragment (RFC 6749 §3.1.2), never a
// script or local scheme nor a network protocol other than https and http
// (RFC 8252 §7.1), a port in 1–65535 when there is one, http only
// on a loopback host (RFC 8252 §7.3, §8.3); and appending the code keeps
// the callback's bytes as its prefix and still parses to the same scheme
// and host.
func FuzzCheckCallbackURL(f *testing.F) {
	for _, s := range []string{
		"http://localhost:3000/cb", "http://127.0.0.1:49152/cb", "http://[::1]:61023/oauth", "http://localhost/",
		"https://app.example.com/cb?state=x&y=1", "vscode://example.vscode-ext/openrouter",
		"chrome-extension://abcdefghijklmnopabcdefghijklmnop/callback.html",
		"javascript:alert(1)", "JavaScript://x/%0aalert(1)", "data:text/html,hi", "file:///etc/passwd",
		"https:evil.example/cb", "/cb", "https://user:pw@app.example.com/cb", "http://app.example.com/cb",
		"http://localhost.evil.example/cb", "http://127.0.0.1.nip.io/cb", "http://127.0.0.1:0/cb",
		"http://127.0.0.1:65536/cb", "https://app.example.com/#/oauth", "http://[::ffff:127.0.0.1]/cb",
		"http://0x7f.1/cb", "http://127.1/cb", "http://[::1%25eth0]/cb", "https://a.example:/cb",
		"http://LOCALHOST:3000/cb", "http://localhost./cb", "https://app.example.com/c b",
		"https://:443/cb", "ws://app.example.com/cb", "Gopher://app.example.com/cb", "com.example.app://oauth/cb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := keygate.CheckCallbackURL(raw)
		if err != nil {
			if keygate.ErrorCode(err) != keygate.EINVALID || !strings.Contains(keygate.ErrorMessage(err), "callback_url") {
				t.Fatalf("CheckCallbackURL(%q) error %v: want EINVALID naming callback_url", raw, err)
			}
			return
		}
		fail := func(why string) { t.Fatalf("CheckCallbackURL(%q) accepted a URL that %s", raw, why) }
		if len(raw) > keygate.MaxCallbackURLLen {
			fail("is too long")
		}
		if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			fail("holds whitespace or a control character")
		}
		if !utf8.ValidString(raw) {
			fail("is not valid UTF-8")
		}
		if strings.Contains(raw, "#") || u.Fragment != "" {
			fail("has a fragment")
		}
		if u.User != nil {
			fail("has user-info")
		}
		if u.Scheme == "" || u.Hostname() == "" || u.Opaque != "" {
			fail("has no scheme or host")
		}
		switch strings.ToLower(u.Scheme) {
		case "javascript", "data", "file", "vbscript", "about", "blob":
			fail("has a forbidden scheme")
		case "ws", "wss", "ftp", "gopher", "telnet", "irc", "nntp", "ldap", "smb", "ssh":
			fail("has a network scheme that is not https, http or private-use")
		case "http":
			if !loopback(u.Hostname()) {
				fail("is http on a host that is not loopback")
			}
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strings.TrimLeft(p, "0123456789") != "" {
				fail("has a port outside 1-65535")
			}
		}
		with := keygate.AppendQuery(raw, "code", "c0de", "state", "s t")
		if !strings.HasPrefix(with, raw) {
			fail("loses its bytes when the code is appended")
		}
		w, err := url.Parse(with)
		if err != nil || w.Scheme != u.Scheme || w.Host != u.Host || w.Query().Get("code") == "" {
			t.Fatalf("AppendQuery(%q) = %q: parse %v; want the same scheme and host with a code", raw, with, err)
		}
	})
}

// loopback is the test's own reading of "loopback host": localhost or an
// IP address in 127.0.0.0/8 or ::1.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FuzzAttribution: the attribution headers never fail a request. AppFrom,
// NormalizeAppURL and ParseCategories never panic; a normalized app URL is
// stable (normalizing it again changes nothing), has no query, fragment,
// user-info or trailing slash and a lower-case scheme and host; categories
// are at most 10 distinct [a-z0-9-]{1,32}; an app title is valid UTF-8
// without control characters, at most 100 code points, and a loopback
// app's title is its host:port.
func FuzzAttribution(f *testing.F) {
	f.Add("https://myapp.example", "My App", "cli-agent,cloud-agent", "https://cb.example/x")
	f.Add("HTTPS://MyApp.example:443/", "A\x00B", "CLI-Agent, bad category!,cli-agent", "")
	f.Add("", "", "", "http://127.0.0.1:8787/cb")
	f.Add("http://[::1]:3000/a/?q=1#f", strings.Repeat("é", 150), strings.Repeat("a,", 40), "vscode://ext.id/x")
	f.Add("https://user:pw@host.example/p//", "\t title \n", ",,,", "not a url")
	f.Add("//no-scheme.example/x", "\xff\xfe", "a"+strings.Repeat("b", 40), "https://a.example/%2F")
	f.Fuzz(func(t *testing.T, referer, title, categories, callback string) {
		cats := keygate.ParseCategories(categories)
		if len(cats) > 10 {
			t.Fatalf("ParseCategories(%q) = %d entries, want at most 10", categories, len(cats))
		}
		seen := map[string]bool{}
		for _, c := range cats {
			if seen[c] || len(c) < 1 || len(c) > 32 || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				t.Fatalf("ParseCategories(%q) = %q: entry %q is repeated or outside [a-z0-9-]{1,32}", categories, cats, c)
			}
			seen[c] = true
		}
		for _, raw := range []string{referer, callback} {
			norm, _ := keygate.NormalizeAppURL(raw)
			if norm == "" {
				continue
			}
			if again, _ := keygate.NormalizeAppURL(norm); again != norm {
				t.Fatalf("NormalizeAppURL(%q) = %q, but normalizing that gives %q", raw, norm, again)
			}
			u, err := url.Parse(norm)
			if err != nil || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(norm, "/") ||
				u.Scheme != strings.ToLower(u.Scheme) || u.Host != strings.ToLower(u.Host) {
				t.Fatalf("NormalizeAppURL(%q) = %q: not a normalized origin and path (%v)", raw, norm, err)
			}
		}
		app := keygate.AppFrom(keygate.Attribution{Referer: referer, Title: title, Categories: categories}, callback)
		if app == nil {
			return
		}
		if !utf8.ValidString(app.Title) {
			t.Fatalf("AppFrom title %q is not valid UTF-8", app.Title)
		}
		if utf8.RuneCountInString(app.Title) > 100 || strings.ContainsFunc(app.Title, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("AppFrom title %q: too long or holds control characters", app.Title)
		}
		if app.IsLoopback {
			if _, _, err := net.SplitHostPort(app.Title); err != nil {
				t.Fatalf("loopback app title %q is not host:port", app.Title)
			}
		}
	})
}

// TestAppendQuery: the code is appended with '?' or '&' so that it is a
// parameter of its own, and the callback's bytes are kept. A query ending
// in a literal '?' still needs '&' (found by FuzzCheckCallbackURL).
func TestAppendQuery(t *testing.T) {
	tests := []struct{ callback, want string }{
		{"http://localhost:3000/cb", "http://localhost:3000/cb?code=c"},
		{"http://localhost:3000/cb?", "http://localhost:3000/cb?code=c"},
		{"http://localhost:3000/cb?a=1", "http://localhost:3000/cb?a=1&code=c"},
		{"http://localhost:3000/cb?a=1&", "http://localhost:3000/cb?a=1&code=c"},
		{"http://localhost:3000/cb?a=1?", "http://localhost:3000/cb?a=1?&code=c"},
		{"http://localhost:3000/cb??", "http://localhost:3000/cb??&code=c"},
		{"vscode://ext.id/cb?x=%2F", "vscode://ext.id/cb?x=%2F&code=c"},
	}
	for _, tt := range tests {
		if got := keygate.AppendQuery(tt.callback, "code", "c"); got != tt.want {
			t.Errorf("AppendQuery(%q) = %q, want %q", tt.callback, got, tt.want)
		}
		u, _ := url.Parse(tt.want)
		if u.Query().Get("code") != "c" {
			t.Errorf("%q: code is not a parameter of its own", tt.want)
		}
	}
}
