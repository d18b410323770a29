// Package metrics is keygate's Prometheus instrumentation: one Metrics
// holds every collector, registered on a registry its caller owns (never
// the global default), and is handed to the service (as its
// keygate.Observer), the server and the gateway. A nil *Metrics records
// nothing.
//
// No label carries a key, a code, a token, an email or any value a client
// chooses freely: routes are the server's patterns, statuses are classes
// ("2xx"), apps are numeric ids of stored apps, models are the names the
// operator's models file serves (or, for reported usage, names an
// operator's service token reported), windows and outcomes come from
// fixed sets.
//
// It imports the root package (for Generation, the Observer interface and
// the audit actions) and prometheus/client_golang, and nothing else of
// keygate's: the service, the server and the gateway import it, never the
// other way round.
package metrics
