// Package conformance runs the official OpenRouter TypeScript SDK
// (@openrouter/sdk, pinned in ts/package.json) against a live keygate server,
// to prove that applications written for OpenRouter work against keygate with
// nothing changed but the server URL.
//
// The package has no code of its own: its test builds cmd/keygate, starts it
// on a loopback port with a fresh database, creates a user and keys with the
// CLI, and runs ts/run.mjs under Node.js. It needs node and npm on PATH and
// the SDK installed with "npm ci" in ts/. Without them the test is skipped,
// except under CI=true, where it fails.
//
// Environment:
//
//	KEYGATE_CONFORMANCE_GROUPS  checks to run: "core", "management", or both
//	                            comma-separated (the default)
//	KEYGATE_TEST_POSTGRES       a postgres:// URL; when set the suite also runs
//	                            against PostgreSQL
package conformance
