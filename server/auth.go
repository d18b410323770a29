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

// authenticate returns the active key of the request, or EUNAUTHORIZED.
func (s *Server) authenticate(r *http.Request) (*keygate.APIKey, error) {
	if r.Header.Get("Authorization") == "" {
		return nil, keygate.Errorf(keygate.EUNAUTHORIZED, "Missing Authentication header")
	}
	key := bearer(r)
	if key == "" {
		return nil, keygate.Errorf(keygate.EUNAUTHORIZED, "Authorization header must be Bearer <key>")
	}
	return s.svc.Authenticate(r.Context(), key)
}

// attribution reads the app attribution headers. X-OpenRouter-Title wins
// over the legacy X-Title.
func attribution(r *http.Request) keygate.Attribution {
	title := r.Header.Get("X-OpenRouter-Title")
	if title == "" {
		title = r.Header.Get("X-Title")
	}
	return keygate.Attribution{
		Referer:    r.Header.Get("HTTP-Referer"),
		Title:      title,
		Categories: r.Header.Get("X-OpenRouter-Categories"),
	}
}
