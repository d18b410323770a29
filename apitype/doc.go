// Package apitype holds the JSON bodies of keygate's HTTP API, shared by the
// server and the Go client so that they cannot drift. Field names are
// OpenRouter's wire names (its OpenAPI specification); money is in
// USD as JSON numbers, times are RFC 3339 strings in UTC.
//
// It imports nothing of keygate's.
package apitype
