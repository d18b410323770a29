// Package gateway is keygate's metering proxy: an OpenAI-compatible,
// OpenRouter-compatible API under /api/v1 that forwards chat completions,
// completions and embeddings to the upstreams an operator configures, and
// charges each answer to the key that asked for it.
//
// It owns the model configuration (the --models YAML file: upstreams,
// models, prices, hot reload), admission (model, key, reservation, body
// cap), the forwarding of requests and the relay of server-sent events,
// the mapping of upstream failures to keygate's error shape, and the
// pricing arithmetic (exact, in integer pico-dollars per token, rounded up
// to a micro-dollar once per request). It also serves GET /api/v1/models
// and GET /api/v1/generation.
//
// Every rule about keys and money is the service's: the gateway calls
// keygate.Service (Authenticate, AttributeApp, Reserve, Settle,
// Generation) and never reaches a store. It imports the root package and
// apitype, never a storage package or the server. docs/gateway.md is the
// operator's guide.
package gateway
