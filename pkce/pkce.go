package pkce

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
)

// Method is a code challenge method (RFC 7636 §4.3). Only the two values the
// RFC defines exist; spelling is exact ("s256" is not a method).
type Method string

const (
	S256  Method = "S256"
	Plain Method = "plain"
)

// Verifier and challenge lengths (RFC 7636 §4.1 and §4.2).
const (
	MinVerifierLen = 43
	MaxVerifierLen = 128
	// S256ChallengeLen is the length of base64url(SHA-256(verifier)) without
	// padding: 32 bytes encode to exactly 43 characters (RFC 7636 §4.2, App. A).
	S256ChallengeLen = 43
)

// Errors returned by the checks in this package. Each says what is wrong
// without repeating the secret.
var (
	ErrUnknownMethod    = errors.New("code_challenge_method must be S256 or plain")
	ErrVerifierLength   = fmt.Errorf("code_verifier must be %d to %d characters", MinVerifierLen, MaxVerifierLen)
	ErrVerifierCharset  = errors.New("code_verifier may only contain A-Z a-z 0-9 - . _ ~")
	ErrChallengeLength  = errors.New("code_challenge has the wrong length")
	ErrChallengeCharset = errors.New("code_challenge has a character outside its alphabet")
	ErrMismatch         = errors.New("code_verifier does not match code_challenge")
)

// ParseMethod returns the Method named by s, or ErrUnknownMethod. An empty s
// is not a method: callers decide what absence means (RFC 7636 §4.3 says a
// challenge without a method is plain).
func ParseMethod(s string) (Method, error) {
	switch Method(s) {
	case S256, Plain:
		return Method(s), nil
	}
	return "", ErrUnknownMethod
}

// NewVerifier returns a fresh code verifier: 32 random bytes in base64url
// without padding, 43 characters (RFC 7636 §4.1 recommends exactly this).
func NewVerifier() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ChallengeS256 returns BASE64URL-ENCODE(SHA256(ASCII(verifier))), the S256
// code challenge of verifier (RFC 7636 §4.2).
func ChallengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Challenge returns the code challenge of verifier under method m.
func Challenge(m Method, verifier string) (string, error) {
	switch m {
	case S256:
		return ChallengeS256(verifier), nil
	case Plain:
		return verifier, nil
	}
	return "", ErrUnknownMethod
}

// CheckVerifier reports whether v is a syntactically valid code verifier:
// 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
func CheckVerifier(v string) error {
	if len(v) < MinVerifierLen || len(v) > MaxVerifierLen {
		return ErrVerifierLength
	}
	if !isUnreserved(v) {
		return ErrVerifierCharset
	}
	return nil
}

// CheckChallenge reports whether c is a valid code challenge for method m.
// An S256 challenge is exactly 43 characters of the base64url alphabet
// without padding; a padded or standard-alphabet challenge is rejected, not
// repaired. A plain challenge is itself a verifier, so it obeys §4.1.
func CheckChallenge(m Method, c string) error {
	switch m {
	case S256:
		if len(c) != S256ChallengeLen {
			return ErrChallengeLength
		}
		for i := 0; i < len(c); i++ {
			if !isBase64URL(c[i]) {
				return ErrChallengeCharset
			}
		}
		// 43 characters carry 258 bits; the last character must leave the
		// two spare bits zero or it is not the encoding of a 32-byte digest.
		if _, err := base64.RawURLEncoding.Strict().DecodeString(c); err != nil {
			return ErrChallengeCharset
		}
		return nil
	case Plain:
		if len(c) < MinVerifierLen || len(c) > MaxVerifierLen {
			return ErrChallengeLength
		}
		if !isUnreserved(c) {
			return ErrChallengeCharset
		}
		return nil
	}
	return ErrUnknownMethod
}

// Verify checks verifier against the stored challenge made with method m
// (RFC 7636 §4.6). The verifier's syntax is checked first; the comparison is
// constant-time so that a mismatch leaks nothing of the challenge.
func Verify(m Method, challenge, verifier string) error {
	if err := CheckVerifier(verifier); err != nil {
		return err
	}
	computed, err := Challenge(m, verifier)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) != 1 {
		return ErrMismatch
	}
	return nil
}

// isUnreserved reports whether s holds only RFC 3986 unreserved characters,
// the verifier alphabet of RFC 7636 §4.1.
func isUnreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isBase64URL(c) && c != '.' && c != '~' {
			return false
		}
	}
	return true
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
