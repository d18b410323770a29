package pkce

import (
	"errors"
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestChallengeS256AppendixB(t *testing.T) {
	if got := ChallengeS256(rfcVerifier); got != rfcChallenge {
		t.Fatalf("ChallengeS256(%q) = %q, want %q", rfcVerifier, got, rfcChallenge)
	}
}

func TestNewVerifier(t *testing.T) {
	a, b := NewVerifier(), NewVerifier()
	if a == b {
		t.Fatalf("NewVerifier returned %q twice", a)
	}
	if err := CheckVerifier(a); err != nil {
		t.Fatalf("CheckVerifier(NewVerifier()) = %v", err)
	}
	if err := Verify(S256, ChallengeS256(a), a); err != nil {
		t.Fatalf("Verify(S256, ChallengeS256(v), v) = %v", err)
	}
}

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in      string
		want    Method
		wantErr bool
	}{
		{"S256", S256, false},
		{"plain", Plain, false},
		{"s256", "", true},
		{"PLAIN", "", true},
		{"S257", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseMethod(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseMethod(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckChallenge(t *testing.T) {
	tests := []struct {
		name   string
		method Method
		in     string
		want   error
	}{
		{"s256-ok", S256, rfcChallenge, nil},
		{"s256-padded", S256, rfcChallenge + "=", ErrChallengeLength},
		{"s256-std-alphabet", S256, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", ErrChallengeCharset},
		{"s256-hex-digest", S256, strings.Repeat("a1", 32), ErrChallengeLength},
		{"s256-short", S256, "abc", ErrChallengeLength},
		{"s256-empty", S256, "", ErrChallengeLength},
		{"s256-nonzero-spare-bits", S256, rfcChallenge[:42] + "N", ErrChallengeCharset},
		{"plain-ok", Plain, "plain-verifier-0123456789-abcdefghijklmnopqrstuvwxyz", nil},
		{"plain-30", Plain, strings.Repeat("a", 30), ErrChallengeLength},
		{"plain-129", Plain, strings.Repeat("a", 129), ErrChallengeLength},
		{"plain-128", Plain, strings.Repeat("a", 128), nil},
		{"plain-slash", Plain, strings.Repeat("a", 42) + "/", ErrChallengeCharset},
		{"plain-plus", Plain, strings.Repeat("a", 42) + "+", ErrChallengeCharset},
		{"unknown-method", "s256", rfcChallenge, ErrUnknownMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckChallenge(tt.method, tt.in); !errors.Is(got, tt.want) {
				t.Errorf("CheckChallenge(%q, %q) = %v, want %v", tt.method, tt.in, got, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name      string
		method    Method
		challenge string
		verifier  string
		want      error
	}{
		{"s256-appendix-b", S256, rfcChallenge, rfcVerifier, nil},
		{"plain-equal", Plain, "plain-verifier-0123456789-abcdefghijklmnopqrstuvwxyz", "plain-verifier-0123456789-abcdefghijklmnopqrstuvwxyz", nil},
		{"s256-wrong", S256, rfcChallenge, "wrong-verifier-wrong-verifier-wrong-verifier-00", ErrMismatch},
		// Presenting the public S256 challenge as if it were a verifier.
		{"s256-challenge-as-verifier", S256, rfcChallenge, rfcChallenge, ErrMismatch},
		{"verifier-36", S256, "bkZx9pfqaU_J-l41ZBFeuRtwamFBbOPED3PfU4Y8t_4", "3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f", ErrVerifierLength},
		{"verifier-129", S256, "5xGMOom_gU3tKrIyMDVlI5JT9Z_eqT4n0CBuF1SS46c", strings.Repeat("A", 129), ErrVerifierLength},
		{"verifier-empty", S256, rfcChallenge, "", ErrVerifierLength},
		{"verifier-charset", Plain, strings.Repeat("a", 42) + "!", strings.Repeat("a", 42) + "!", ErrVerifierCharset},
		{"plain-wrong", Plain, strings.Repeat("a", 43), strings.Repeat("b", 43), ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.method, tt.challenge, tt.verifier); !errors.Is(got, tt.want) {
				t.Errorf("Verify(%q, %q, %q) = %v, want %v", tt.method, tt.challenge, tt.verifier, got, tt.want)
			}
		})
	}
}
