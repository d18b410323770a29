// Package keygate is the domain of keygate, an OpenRouter-compatible OAuth
// PKCE key-provisioning server: users, workspaces, apps, authorization codes,
// API keys, usage and limits, and the Service that enforces keygate's
// rules on them (docs/architecture.md says where each one lives).
//
// The package speaks neither HTTP nor SQL. Storage adapters (sqlite,
// postgres) implement the Store interface; the server package turns HTTP
// requests into Service calls. It imports nothing of keygate's but pkce.
package keygate
