package keygate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Key format: <prefix>v1-<64 lowercase hex digits> from 32 random bytes
// (docs/security.md). The prefix is configurable (sk-kg- by default, sk-or-
// for apps that check OpenRouter's), so parsing only looks at the suffix.
const (
	keyVersion   = "v1-"
	keyHexLen    = 64
	keySuffixLen = len(keyVersion) + keyHexLen
)

// DefaultKeyPrefix is the prefix of keys minted by a default configuration.
const DefaultKeyPrefix = "sk-kg-"

// NewKey returns a fresh key with the given prefix.
func NewKey(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + keyVersion + hex.EncodeToString(b[:])
}

// HashSecret returns the hex SHA-256 of a secret (key, code or session
// token): the only form in which secrets are stored.
func HashSecret(secret string) string {
	// This runs on every authenticated request. Copying a key-sized secret
	// into an array on the stack, and encoding into another, leaves one
	// allocation: the string returned.
	var sum [sha256.Size]byte
	var buf [128]byte
	if len(secret) <= len(buf) {
		sum = sha256.Sum256(append(buf[:0], secret...))
	} else {
		sum = sha256.Sum256([]byte(secret))
	}
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// WellFormedKey reports whether key ends in "v1-" and 64 lowercase hex
// digits. Anything else cannot be a key, and is rejected without a lookup.
func WellFormedKey(key string) bool {
	if len(key) < keySuffixLen || len(key) > keySuffixLen+32 {
		return false
	}
	s := key[len(key)-keySuffixLen:]
	if !strings.HasPrefix(s, keyVersion) {
		return false
	}
	for i := len(keyVersion); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MaskKey returns the display form of a key: its prefix and "v1-", the
// first and last 3 hex digits around "...", e.g. sk-kg-v1-3fa...d2e.
func MaskKey(key string) string {
	if !WellFormedKey(key) {
		return "invalid"
	}
	hexPart := key[len(key)-keyHexLen:]
	return key[:len(key)-keyHexLen] + hexPart[:3] + "..." + hexPart[keyHexLen-3:]
}

// NewCode returns a fresh authorization code: 32 random bytes (256 bits)
// in base64url without padding, so every character is in [A-Za-z0-9_-] and
// percent-encoding it changes nothing.
func NewCode() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewToken returns a fresh random token for sessions and form tokens.
func NewToken() string { return NewCode() }
