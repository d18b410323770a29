// Package pkce implements Proof Key for Code Exchange (RFC 7636): code
// verifier generation, the S256 and plain code challenge methods, the
// syntax checks on verifiers and challenges, and the constant-time check
// that a verifier matches a stored challenge.
//
// It does no I/O and imports nothing of keygate's, so the server and the Go
// client share it.
package pkce
