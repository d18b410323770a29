package pkce_test

import (
	"errors"
	"fmt"

	"github.com/keygate/keygate/pkce"
)

// A client makes a verifier, sends its S256 challenge with the
// authorization request, and keeps the verifier for the exchange.
func ExampleNewVerifier() {
	verifier := pkce.NewVerifier()
	challenge := pkce.ChallengeS256(verifier)
	fmt.Println(len(verifier), len(challenge), pkce.CheckVerifier(verifier))
	// Output: 43 43 <nil>
}

// The example of RFC 7636 Appendix B.
func ExampleChallengeS256() {
	fmt.Println(pkce.ChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	// Output: E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
}

// The server checks the verifier against the challenge it stored; the
// errors say what is wrong without repeating the secret.
func ExampleVerify() {
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	fmt.Println(pkce.Verify(pkce.S256, challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	fmt.Println(errors.Is(pkce.Verify(pkce.S256, challenge, pkce.NewVerifier()), pkce.ErrMismatch))
	fmt.Println(pkce.Verify(pkce.S256, challenge, "too-short"))
	// Output:
	// <nil>
	// true
	// code_verifier must be 43 to 128 characters
}
