package server

import (
	"net/http"
	"strings"

	"github.com/keygate/keygate"
)

// bearer returns the credential of an "Authorization: Bearer <key>" header
// (RFC 6750 §2.1; the scheme is case-insensitive), or "" when there is none.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// authenticate returns the active key of the request, or EUNAUTHORIZED. A
// request with two Authorization headers is EINVALID: which one a proxy
// or another server would believe is anyone's guess (RFC 9110 §5.3 allows
// repeating only list-valued fields, and Authorization is not one).
func (s *Server) authenticate(r *http.Request) (*keygate.APIKey, error) {
	switch n := len(r.Header.Values("Authorization")); {
	case n == 0 || r.Header.Get("Authorization") == "":
		return nil, keygate.Errorf(keygate.EUNAUTHORIZED, "Missing Authentication header")
	case n > 1:
		return nil, keygate.Errorf(keygate.EINVALID, "Authorization header appears more than once")
	}
	key := bearer(r)
	if key == "" {
		return nil, keygate.Errorf(keygate.EUNAUTHORIZED, "Authorization header must be Bearer <key>")
	}
	return s.svc.Authenticate(r.Context(), key)
}

// attribution reads the app attribution headers. X-OpenRouter-Title wins
// over the legacy X-Title. A single-valued header sent more than once is
// ambiguous and dropped, like any bad attribution value (never fatal);
// X-OpenRouter-Categories is a comma-separated list, so its lines are
// joined into one list (RFC 9110 §5.3).
func attribution(r *http.Request) keygate.Attribution {
	title := single(r, "X-OpenRouter-Title")
	if title == "" {
		title = single(r, "X-Title")
	}
	return keygate.Attribution{
		Referer:    single(r, "HTTP-Referer"),
		Title:      title,
		Categories: strings.Join(r.Header.Values("X-OpenRouter-Categories"), ","),
	}
}

// single returns the value of header name when the request carries it
// exactly once, and "" otherwise.
func single(r *http.Request, name string) string {
	if v := r.Header.Values(name); len(v) == 1 {
		return v[0]
	}
	return ""
}
