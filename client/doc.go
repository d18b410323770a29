// Package client is a Go client for keygate's auth and key API, which is
// OpenRouter's: the same code works against a keygate server and against
// OpenRouter itself.
//
// A Client made by New with the API base URL ("https://openrouter.ai/api/v1",
// "http://127.0.0.1:8080/api/v1") has one method per API operation, named
// after the official SDKs: CreateAuthCode and ExchangeAuthCodeForAPIKey for
// the PKCE code flow, CreateAuthorizationURL for the browser flow's /auth
// page, GetCurrentKey, and Keys and Workspaces for the management API.
// Request and response bodies are the apitype package's types, which the
// server uses too. Amounts are USD; times are RFC 3339 strings.
//
// Failed calls return an *Error carrying the HTTP status and the server's
// message; errors.Is matches it against ErrBadRequest, ErrUnauthorized,
// ErrForbidden, ErrNotFound, ErrConflict, ErrRateLimited and ErrServer.
// Idempotent calls (GET) are retried on 429, 502, 503 and 504 with
// exponential backoff, honouring Retry-After; creating or exchanging a
// code never is.
//
// Login is "Sign in with keygate" for command-line programs: it opens the
// user's browser on the consent page, receives the code on a loopback
// callback (RFC 8252 §7.3), checks the state and exchanges the code with
// its PKCE verifier (RFC 7636) for a new key.
//
// The package imports apitype and pkce, nothing else of keygate's.
package client
