package pkce

import "testing"

// The exchange verifies one code verifier per sign-in.

func BenchmarkVerify(b *testing.B) {
	plainVerifier := rfcVerifier + "-plain"
	cases := []struct {
		name                string
		method              Method
		challenge, verifier string
		want                error
	}{
		{"S256", S256, rfcChallenge, rfcVerifier, nil},
		{"S256-mismatch", S256, rfcChallenge, rfcVerifier[:42] + "A", ErrMismatch},
		{"plain", Plain, plainVerifier, plainVerifier, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Verify(c.method, c.challenge, c.verifier); err != c.want {
					b.Fatalf("Verify = %v, want %v", err, c.want)
				}
			}
		})
	}
}

func BenchmarkChallengeS256(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ChallengeS256(rfcVerifier)
	}
}
