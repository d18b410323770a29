package server

import (
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// bearer returns the credential of an "Authorization: Bearer <key>" header,
// or "" when there is none.
func bearer(r *http.Request) string { return apitype.Bearer(r.Header) }

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

// attribution reads the app attribution headers.
func attribution(r *http.Request) keygate.Attribution {
	referer, title, categories := apitype.AttributionHeaders(r.Header)
	return keygate.Attribution{Referer: referer, Title: title, Categories: categories}
}
