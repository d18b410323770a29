// Package idtoken verifies the identity tokens of OpenID Connect issuers
// for keygate's workload identity federation: it fetches and caches an
// issuer's discovery document (OpenID Connect Discovery 1.0 §4) and its
// JWKS, with go-oidc, and implements keygate.SubjectTokenVerifier.
//
// It owns the HTTP client side of federation and nothing else: the rules
// (which policy, which claims, which times) are the service's. It must not
// import server, gateway or the stores. Its subpackage idptest is an
// OpenID provider for tests.
package idtoken
