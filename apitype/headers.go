package apitype

import (
	"net/http"
	"strings"
)

// Bearer returns the credential of an "Authorization: Bearer <key>" header
// (RFC 6750 §2.1; the scheme is case-insensitive), or "" when there is none.
func Bearer(h http.Header) string {
	scheme, cred, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// AttributionHeaders reads OpenRouter's app attribution headers:
// HTTP-Referer, the title (X-OpenRouter-Title, else the legacy X-Title) and
// X-OpenRouter-Categories. A single-valued header sent more than once is
// ambiguous and read as absent (attribution is never fatal);
// X-OpenRouter-Categories is a comma-separated list, so its lines are
// joined into one list (RFC 9110 §5.3).
func AttributionHeaders(h http.Header) (referer, title, categories string) {
	// The names are in their canonical form (textproto.CanonicalMIMEHeaderKey),
	// as net/http stores a request's header, so that reading them on every
	// metered request allocates nothing.
	title = single(h["X-Openrouter-Title"])
	if title == "" {
		title = single(h["X-Title"])
	}
	return single(h["Http-Referer"]), title, strings.Join(h["X-Openrouter-Categories"], ",")
}

// single returns the one value of a header, and "" for none or several.
func single(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return ""
}
