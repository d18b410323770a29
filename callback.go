package keygate

import (
	"net"
	"net/url"
	"strings"
)

// MaxCallbackURLLen is the longest callback_url accepted, in bytes.
const MaxCallbackURLLen = 2048

// forbiddenSchemes are never a place to send an authorization code: the
// script and local schemes run code or read local data in the browser, and
// the network schemes are protocols of their own, registered with IANA
// (RFC 7595), most of them in cleartext. None is a private-use scheme in
// the sense of RFC 8252 §7.1, which names an app, not a protocol. https
// and http are absent: they have rules of their own in CheckCallbackURL.
var forbiddenSchemes = map[string]bool{
	// Script and local resources.
	"javascript": true, "data": true, "file": true, "vbscript": true,
	"about": true, "blob": true, "filesystem": true, "view-source": true,
	"jar": true, "intent": true,
	// Network protocols other than https and http.
	"ws": true, "wss": true, "ftp": true, "ftps": true, "sftp": true, "tftp": true,
	"gopher": true, "telnet": true, "ssh": true, "rlogin": true,
	"irc": true, "ircs": true, "irc6": true, "nntp": true, "news": true, "snews": true,
	"ldap": true, "ldaps": true, "smb": true, "cifs": true, "nfs": true, "afp": true,
	"imap": true, "imaps": true, "pop": true, "pop3": true, "smtp": true, "mailto": true,
	"xmpp": true, "sip": true, "sips": true, "tel": true, "sms": true, "mms": true,
	"rtsp": true, "rtmp": true, "dict": true, "wais": true, "prospero": true,
	"finger": true, "dns": true, "snmp": true, "rsync": true, "git": true, "svn": true,
	"vnc": true, "rdp": true, "redis": true, "mongodb": true, "mysql": true,
	"postgres": true, "postgresql": true, "coap": true, "mqtt": true, "webcal": true,
}

// CheckCallbackURL validates a callback (redirect) URL and returns it
// parsed. The URL is used exactly as given; nothing is trimmed or repaired.
//
// Accepted, following RFC 8252 §7: https with a host (§7.2); http only on a
// loopback host (localhost, 127.0.0.0/8, [::1]) on any port (§7.3, §8.3);
// and private-use schemes (§7.1), the schemes that name an app rather than
// a protocol: reverse-domain schemes such as com.example.app://, and app
// schemes such as vscode://, cursor:// or chrome-extension://. A scheme is
// taken as private-use unless it is https, http or one of forbiddenSchemes:
// the script and local schemes (javascript, data, file, vbscript, about,
// blob, …) and the registered network protocols (ws, wss, ftp, gopher,
// telnet, ssh, irc, nntp, ldap, smb, mailto, …), in any case.
//
// Rejected besides, as EINVALID naming callback_url: relative URLs, URLs
// without an authority or with an empty host ("https://:443/"), whitespace
// or control characters, any byte outside ASCII (RFC 3986 §2; hosts in
// punycode), user-info, a fragment (RFC 6749 §3.1.2), ports outside
// 1–65535, and URLs longer than MaxCallbackURLLen bytes.
func CheckCallbackURL(raw string) (*url.URL, error) {
	bad := func(why string) (*url.URL, error) {
		return nil, Errorf(EINVALID, "callback_url %s", why)
	}
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > MaxCallbackURLLen {
		return bad("is longer than 2048 bytes")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return bad("must not contain whitespace or control characters")
		}
	}
	for i := 0; i < len(raw); i++ {
		// RFC 3986 URIs are ASCII. Refusing the rest also refuses Unicode
		// white space, controls and format characters (U+0085, U+00A0,
		// U+200B, U+2028, bidi overrides) and look-alike host names: a
		// host must be in its punycode form, which the consent page shows.
		if raw[i] >= 0x80 {
			return bad("must be ASCII: percent-encode other characters and write host names in punycode")
		}
	}
	if strings.Contains(raw, "#") {
		return bad("must not contain a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("is not a valid URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "":
		return bad("must be an absolute URL")
	case forbiddenSchemes[scheme]:
		return bad("uses a forbidden scheme")
	case u.Opaque != "" || u.Hostname() == "":
		return bad("must have a host (scheme://host/...)")
	case u.User != nil:
		return bad("must not contain user-info")
	}
	if p := u.Port(); p != "" {
		if !validPort(p) {
			return bad("has an invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("has an invalid port")
	}
	if scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return bad("must use https unless its host is loopback (localhost, 127.0.0.1, [::1])")
	}
	return u, nil
}

func validPort(p string) bool {
	if len(p) == 0 || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// IsLoopbackHost reports whether host (without brackets or port) is
// "localhost" or a loopback IP address: 127.0.0.0/8 or ::1. Names that
// merely start with a loopback spelling (localhost.evil.example,
// 127.0.0.1.nip.io) are not loopback.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AppendQuery returns callback with the given query parameters appended,
// keeping the callback's own query byte-for-byte: '&' when it already has a
// query, '?' otherwise. pairs alternates names and values; values are
// query-escaped.
func AppendQuery(callback string, pairs ...string) string {
	var b strings.Builder
	b.WriteString(callback)
	sep := byte('?')
	if _, query, ok := strings.Cut(callback, "?"); ok {
		// Only an empty query or one ending in '&' needs no separator; a
		// query ending in a literal '?' ("?a=1?") still does.
		sep = '&'
		if query == "" || strings.HasSuffix(query, "&") {
			sep = 0
		}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if sep != 0 {
			b.WriteByte(sep)
		}
		sep = '&'
		b.WriteString(url.QueryEscape(pairs[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(pairs[i+1]))
	}
	return b.String()
}
