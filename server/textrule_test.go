package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAttributionFollowsTextRule: an attribution header that breaks the
// text rule, or that comes twice, is dropped, never stored: the app gets
// the title or URL it would have without it.
func TestAttributionFollowsTextRule(t *testing.T) {
	tests := []struct {
		name      string
		headers   []string
		raw       string // sent instead when the headers must repeat
		wantURL   string
		wantTitle string
	}{
		{"title-zero-width", []string{"HTTP-Referer", "https://app.example", "X-OpenRouter-Title", "My\u200bApp"}, "", "https://app.example", "app.example"},
		{"title-bidi", []string{"HTTP-Referer", "https://app.example", "X-Title", "Good\u202edab"}, "", "https://app.example", "app.example"},
		{"title-fine", []string{"HTTP-Referer", "https://app.example", "X-Title", "Café 東京"}, "", "https://app.example", "Café 東京"},
		{"referer-bidi-host", []string{"HTTP-Referer", "https://exa\u202eelpma.com/"}, "", "http://localhost:3000/cb", "localhost:3000"},
		{"referer-zero-width-host", []string{"HTTP-Referer", "https://app\u200b.example/"}, "", "http://localhost:3000/cb", "localhost:3000"},
		{"referer-twice", nil, "HTTP-Referer: https://one.example\r\nHTTP-Referer: https://two.example\r\n", "http://localhost:3000/cb", "localhost:3000"},
		{"title-twice", nil, "HTTP-Referer: https://app.example\r\nX-Title: One\r\nX-Title: Two\r\n", "https://app.example", "app.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var r *response
			if tt.raw != "" {
				body := `{"callback_url":"http://localhost:3000/cb"}`
				r = e.sendRaw("POST /api/v1/auth/keys/code HTTP/1.1\r\nHost: keygate.test\r\nAuthorization: Bearer " + e.userKey +
					"\r\n" + tt.raw + "Content-Type: application/json\r\nContent-Length: 43\r\n\r\n" + body)
			} else {
				r = e.do("POST", "/api/v1/auth/keys/code", map[string]any{"callback_url": cbLocal}, append([]string{"Authorization", "Bearer " + e.userKey}, tt.headers...)...)
			}
			if r.status != http.StatusOK {
				t.Fatalf("create code: %d %s", r.status, r.body)
			}
			appID := int64(r.json(t)["data"].(map[string]any)["app_id"].(float64))
			app, err := e.store.App(t.Context(), appID)
			if err != nil {
				t.Fatal(err)
			}
			if app.URL != tt.wantURL || app.Title != tt.wantTitle {
				t.Errorf("app = %q titled %q, want %q titled %q", app.URL, app.Title, tt.wantURL, tt.wantTitle)
			}
		})
	}
}

// TestLoginEchoFollowsTextRule: the sign-in form shows back the email it
// was sent only when the text rule allows it.
func TestLoginEchoFollowsTextRule(t *testing.T) {
	tests := []struct {
		email string
		shown bool
	}{
		{"bob@example.com", true},
		{"bob@exa\u202eelpmaxe.com", false},
		{"bob\u200b@example.com", false},
		{strings.Repeat("a", 300) + "@example.com", false},
	}
	for _, tt := range tests {
		e := newEnv(t)
		token := "t" + strings.Repeat("0", 42)
		r := e.browse("POST", "/login", url.Values{"email": {tt.email}, "password": {"wrong"}, "form_token": {token}}, []string{"keygate_login=" + token})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("POST /login %q: %d, want 401", tt.email, r.status)
		}
		if shown := strings.Contains(string(r.body), tt.email); shown != tt.shown {
			t.Errorf("POST /login %q: email shown back = %v, want %v", tt.email, shown, tt.shown)
		}
	}
}
