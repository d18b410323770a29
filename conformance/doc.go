// Package conformance runs the official OpenRouter TypeScript SDK
// (@openrouter/sdk, pinned in ts/package.json) against a live keygate server,
// to prove that applications written for OpenRouter work against keygate with
// nothing changed but the server URL.
//
// The package has no code of its own: its test builds cmd/keygate, starts it
// on a loopback port with a fresh database and a models file pointing at a
// scripted upstream (gateway/upstreamtest), creates a user and keys with the
// CLI, and runs ts/run.mjs under Node.js; TestGatewayClients runs
// ts/gateway.mjs, real LLM clients (the SDK, the openai package, the Vercel
// AI SDK) through the gateway. It needs node and npm on PATH and the
// packages installed with "npm ci" in ts/. Without them the tests are
// skipped, except under CI=true, where they fail.
//
// Environment:
//
//	KEYGATE_CONFORMANCE_GROUPS  checks of run.mjs to run: "core",
//	                            "management", "gateway", "apps",
//	                            comma-separated (default: all four)
//	KEYGATE_TEST_POSTGRES       a postgres:// URL; when set the suite also runs
//	                            against PostgreSQL
package conformance
