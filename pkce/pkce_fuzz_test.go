package pkce

import (
	"encoding/base64"
	"testing"
)

// FuzzCheckChallenge: whatever the input, CheckChallenge does not panic,
// and a challenge it accepts is well-formed. An accepted S256 challenge is
// the unpadded base64url encoding of exactly 32 bytes (a SHA-256 digest)
// and re-encodes to itself (RFC 7636 §4.2, Appendix A: nothing was
// "repaired"); an accepted plain challenge is itself a valid verifier
// (RFC 7636 §4.1) that verifies against itself.
func FuzzCheckChallenge(f *testing.F) {
	for _, s := range []string{
		rfcChallenge, rfcChallenge + "=", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
		"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", rfcVerifier, "", "abc",
		"plain-verifier-0123456789-abcdefghijklmnopqrstuvwxyz",
	} {
		f.Add("S256", s)
		f.Add("plain", s)
	}
	f.Add("s256", rfcChallenge)
	f.Fuzz(func(t *testing.T, method, challenge string) {
		if err := CheckChallenge(Method(method), challenge); err != nil {
			return
		}
		switch Method(method) {
		case S256:
			b, err := base64.RawURLEncoding.Strict().DecodeString(challenge)
			if err != nil || len(b) != 32 {
				t.Fatalf("CheckChallenge(S256, %q) = nil, but it decodes to %d bytes, %v", challenge, len(b), err)
			}
			if re := base64.RawURLEncoding.EncodeToString(b); re != challenge {
				t.Fatalf("CheckChallenge(S256, %q) = nil, but it re-encodes to %q", challenge, re)
			}
		case Plain:
			if err := CheckVerifier(challenge); err != nil {
				t.Fatalf("CheckChallenge(plain, %q) = nil, but CheckVerifier = %v", challenge, err)
			}
			if err := Verify(Plain, challenge, challenge); err != nil {
				t.Fatalf("Verify(plain, c, c) = %v for accepted challenge %q", err, challenge)
			}
		default:
			t.Fatalf("CheckChallenge(%q, %q) = nil for a method that does not exist", method, challenge)
		}
	})
}

// FuzzVerify: Verify does not panic, accepts only syntactically valid
// verifiers (RFC 7636 §4.1), accepts a verifier against its own S256 and
// plain challenges exactly when the verifier is valid, and refuses it
// against any other challenge (RFC 7636 §4.6).
func FuzzVerify(f *testing.F) {
	f.Add("S256", rfcChallenge, rfcVerifier)
	f.Add("S256", rfcChallenge, rfcVerifier+"x")
	f.Add("plain", rfcVerifier, rfcVerifier)
	f.Add("plain", rfcChallenge, rfcVerifier)
	f.Add("S256", "", "")
	f.Add("S257", rfcChallenge, rfcVerifier)
	f.Add("S256", rfcChallenge, "3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f")
	f.Add("plain", "A", string(make([]byte, 129)))
	f.Fuzz(func(t *testing.T, method, challenge, verifier string) {
		m := Method(method)
		err := Verify(m, challenge, verifier)
		valid := CheckVerifier(verifier) == nil
		if err == nil {
			if !valid {
				t.Fatalf("Verify(%q, %q, %q) = nil for an invalid verifier", method, challenge, verifier)
			}
			want, cerr := Challenge(m, verifier)
			if cerr != nil || want != challenge {
				t.Fatalf("Verify(%q, %q, %q) = nil, but the verifier's challenge is %q (%v)", method, challenge, verifier, want, cerr)
			}
		}
		for _, own := range []Method{S256, Plain} {
			c, _ := Challenge(own, verifier)
			if got := Verify(own, c, verifier) == nil; got != valid {
				t.Fatalf("Verify(%s, Challenge(%s, v), v) ok=%v, want %v for v=%q", own, own, got, valid, verifier)
			}
		}
	})
}
