package server

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func TestCallbackSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:3000/cb", "http://127.0.0.1:3000"},
		{"http://localhost/", "http://localhost"},
		{"HTTPS://App.Example.com/cb?x=1", "https://App.Example.com"},
		{"http://[::1]:61023/oauth", "http:"},
		{"vscode://example.vscode-ext/openrouter", "vscode://example.vscode-ext"},
		{"chrome-extension://abcdefghijklmnopabcdefghijklmnop/cb.html", "chrome-extension://abcdefghijklmnopabcdefghijklmnop"},
		{"my.app://cb_host/x", "my.app:"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := callbackSource(tt.in); got != tt.want {
			t.Errorf("callbackSource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatUSD(t *testing.T) {
	tests := []struct {
		in   keygate.Micros
		want string
	}{
		{0, "$0.00"},
		{100_000_000, "$100.00"},
		{500_000, "$0.50"},
		{12_345_000, "$12.345"},
		{125, "$0.000125"},
		{1_000_000_000_000_000, "$1000000000.00"},
	}
	for _, tt := range tests {
		if got := formatUSD(tt.in); got != tt.want {
			t.Errorf("formatUSD(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{10 * time.Minute, "10 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{90 * time.Second, "90 seconds"},
		{2 * time.Second, "2 seconds"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.in); got != tt.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLocalReturn(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/auth?callback_url=x", "/auth?callback_url=x"},
		{"/auth?", "/auth?"},
		{"/auth", ""},
		{"/authx?a", ""},
		{"//evil.example/auth?x", ""},
		{"https://evil.example/auth?x", ""},
		{"/auth?a b", ""},
		{"/auth?a\\b", ""},
		{"/auth?a\nb", ""},
		{"/auth?" + string(make([]byte, maxReturnTo)), ""},
		{"/", "/"},
		{"/settings/keys?sort=-name", "/settings/keys?sort=-name"},
		{"/admin/users", "/admin/users"},
		{"/settings", ""},
		{"/logout", ""},
		{"/settings/keys\\x", ""},
	}
	for _, tt := range tests {
		if got := localReturn(tt.in); got != tt.want {
			t.Errorf("localReturn(%.40q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
