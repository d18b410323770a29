package main

import (
	"strings"
	"testing"

	"github.com/keygate/keygate"
)

func TestServeSignupPolicy(t *testing.T) {
	tests := []struct {
		signup string
		dev    bool
		want   keygate.SignupPolicy
	}{
		{"", false, keygate.SignupClosed},
		{"", true, keygate.SignupOpen},
		{"closed", true, keygate.SignupClosed},
		{"invite", false, keygate.SignupInvite},
		{"open", false, keygate.SignupOpen},
	}
	for _, tt := range tests {
		c := ServeConfig{Addr: "127.0.0.1:8080", KeyPrefix: "sk-kg-", CodeTTL: 600e9, LogLevel: "info", Signup: tt.signup, Dev: tt.dev}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(--signup %q) = %v", tt.signup, err)
		}
		if got := signupPolicy(c); got != tt.want {
			t.Errorf("signupPolicy(--signup %q, dev %v) = %q, want %q", tt.signup, tt.dev, got, tt.want)
		}
	}
	for _, bad := range []string{"Open", "invites", " open"} {
		c := ServeConfig{Addr: "127.0.0.1:8080", KeyPrefix: "sk-kg-", CodeTTL: 600e9, LogLevel: "info", Signup: bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--signup") {
			t.Errorf("Validate(--signup %q) = %v, want an error naming --signup", bad, err)
		}
	}
}
