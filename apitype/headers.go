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
// X-OpenRouter-Categories.
func AttributionHeaders(h http.Header) (referer, title, categories string) {
	title = h.Get("X-OpenRouter-Title")
	if title == "" {
		title = h.Get("X-Title")
	}
	return h.Get("HTTP-Referer"), title, h.Get("X-OpenRouter-Categories")
}
