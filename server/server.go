package server

import (
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/metrics"
)

// Config holds the HTTP layer's settings.
type Config struct {
	// PublicURL is the externally visible base URL, e.g.
	// "https://keys.example.com" (no trailing slash). Cookies are Secure when
	// it is https, and the /auth example URLs use it.
	PublicURL string
	// TrustedProxies lists the networks whose X-Forwarded-For is believed
	// when finding the client IP.
	TrustedProxies []*net.IPNet
	// RateLimit is how many requests a second one client IP may send to
	// the code, exchange and sign-in endpoints, with a burst of ten times
	// as many; sign-ins refill at a tenth of it, with a burst of five
	// (see ratelimit.go); 0 turns the limit off.
	RateLimit float64
	// Gateway, when set, serves the metering proxy's routes (package
	// gateway): each "METHOD /api/v1/…" pattern maps to a handler that
	// returns its error as the API's own handlers do. Other paths under
	// /api/v1/ stay 404.
	Gateway map[string]func(http.ResponseWriter, *http.Request) error
	// Price prices reported usage that names no cost (POST
	// /api/v1/usage); nil: such events are rejected.
	Price keygate.Pricer
	// Metrics, when set, counts every request by route pattern and status
	// class, and usage batches.
	Metrics *metrics.Metrics
	// ServeMetrics serves Metrics at GET /metrics on this handler (else
	// the operator serves it on an address of its own).
	ServeMetrics bool
	// AutoConsent, when set, decides a valid GET /auth with nobody at a
	// browser: it returns AutoApprove and the id of the user who approves,
	// AutoDeny, or AutoAsk to show the sign-in and consent pages as
	// usual. Approving creates the code through the same service call as
	// the consent page. keygate serve never sets it; the emulator does
	// (docs/emulator.md).
	AutoConsent func(r *http.Request) (decision AutoDecision, userID string)
	// OIDC lists the upstream OpenID providers people may sign in with
	// (browser_oidc.go); each must accept PublicURL + "/login/oidc/callback"
	// as a redirect URI. NoPasswordLogin turns password sign-in off.
	OIDC            []OIDCProvider
	NoPasswordLogin bool
}

// AutoDecision is what Config.AutoConsent decides for a GET /auth.
type AutoDecision int

const (
	AutoAsk     AutoDecision = iota // show the sign-in and consent pages
	AutoApprove                     // 302 to the callback with a code
	AutoDeny                        // 302 to the callback with error=access_denied
)

// Server serves keygate's HTTP API and browser pages.
type Server struct {
	svc *keygate.Service
	cfg Config
	log *slog.Logger
	api *http.ServeMux // /api/v1: JSON, CORS-open
	mux *http.ServeMux // everything, browser routes included
	// limiter rate-limits the API endpoints that accept guesses, and
	// loginLimiter the sign-in form (ratelimit.go); nil is off.
	limiter, loginLimiter *rateLimiter
}

// New returns the HTTP handler of keygate.
func New(svc *keygate.Service, cfg Config, log *slog.Logger) *Server {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{svc: svc, cfg: cfg, log: log, api: http.NewServeMux(), mux: http.NewServeMux()}
	s.limiter = newRateLimiter(cfg.RateLimit, 0, svc.Now)
	s.loginLimiter = newRateLimiter(cfg.RateLimit*loginRateShare, loginBurst, svc.Now)
	s.routes()
	return s
}

func (s *Server) routes() {
	s.apiRoute("/api/v1/auth/keys/code", "POST", s.limited(s.limiter, s.createAuthCode))
	s.apiRoute("/api/v1/auth/keys", "POST", s.limited(s.limiter, s.exchangeAuthCode))
	s.apiRoute("/api/v1/key", "GET", s.currentKey)
	s.apiRoute("/api/v1/auth/key", "GET", s.currentKey) // legacy alias
	s.apiMethods("/api/v1/keys", map[string]apiHandler{"GET": s.listKeys, "POST": s.createKey})
	s.apiMethods("/api/v1/keys/{hash}", map[string]apiHandler{"GET": s.getKey, "PATCH": s.updateKey, "DELETE": s.deleteKey})
	s.apiMethods("/api/v1/workspaces", map[string]apiHandler{"GET": s.listWorkspaces, "POST": s.createWorkspace})
	s.apiMethods("/api/v1/workspaces/{id}", map[string]apiHandler{"GET": s.getWorkspace, "PATCH": s.updateWorkspace, "DELETE": s.deleteWorkspace})
	s.budgetRoutes()
	s.guardrailRoutes()
	s.api.Handle("/api/v1/auth/verify", s.handle(s.verify))
	s.api.Handle("/api/v1/auth/verify/", s.handle(s.verify)) // Envoy ext_authz appends the path
	s.apiRoute("/api/v1/usage", "POST", s.reportUsage)
	s.apiRoute("/api/v1/datasets/app-rankings", "GET", s.appRankings())
	s.apiRoute("/api/v1/activity", "GET", s.activity)
	s.apiRoute("/api/v1/credits", "GET", s.credits)
	s.routeFederation() // federation.go
	for pattern, h := range s.cfg.Gateway {
		method, path, _ := strings.Cut(pattern, " ")
		s.apiRoute(path, method, h)
	}
	s.api.Handle("/api/v1/", s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))

	s.mux.Handle("/api/v1/", cors(s.api))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if s.cfg.ServeMetrics && s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
	}
	s.mountBrowser() // /auth, /login, /logout, /static/: browser_auth.go, browser.go
}

// apiRoute registers h for method on path, and a JSON 405 with Allow for
// every other method (RFC 9110 §15.5.6). HEAD follows GET.
func (s *Server) apiRoute(path, method string, h apiHandler) {
	s.api.Handle(method+" "+path, s.handle(h))
	allow := method
	if method == "GET" {
		allow = "GET, HEAD"
	}
	s.api.Handle(path, s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return keygate.Errorf(keygate.EMETHOD, "Method %s is not allowed; use %s", r.Method, method)
	}))
}

// apiMethods is apiRoute for a path that serves several methods: a handler
// per method, and a JSON 405 whose Allow lists them all for any other.
func (s *Server) apiMethods(path string, handlers map[string]apiHandler) {
	var methods []string
	for m, h := range handlers {
		s.api.Handle(m+" "+path, s.handle(h))
		methods = append(methods, m)
		if m == "GET" {
			methods = append(methods, "HEAD")
		}
	}
	slices.Sort(methods)
	allow := strings.Join(methods, ", ")
	s.api.Handle(path, s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return keygate.Errorf(keygate.EMETHOD, "Method %s is not allowed; use %s", r.Method, allow)
	}))
}

// ServeHTTP attaches the client IP to the request context and dispatches,
// counting the request in Config.Metrics by the pattern that served it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(keygate.WithClientIP(r.Context(), s.clientIP(r)))
	if s.cfg.Metrics == nil {
		s.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	s.mux.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	// The muxes set r.Pattern in place: the innermost one's pattern.
	s.cfg.Metrics.Request(r.Pattern, r.Method, sw.status, time.Since(start))
}

// statusWriter remembers the status written through it. It passes
// flushes on, and Unwrap lets http.ResponseController reach the
// connection, so streamed answers stream as before.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes through http.ResponseController, so that a handler
// that flushes hears of a client gone away as it would unwrapped.
func (w *statusWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Flush() { w.FlushError() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientIP is the peer address, or the last X-Forwarded-For hop not in a
// trusted proxy network when the peer itself is a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if net.ParseIP(h) == nil {
			break
		}
		if !s.trusted(h) {
			return h
		}
		host = h
	}
	return host
}

func (s *Server) trusted(ip string) bool {
	p := net.ParseIP(ip)
	for _, n := range s.cfg.TrustedProxies {
		if p != nil && n.Contains(p) {
			return true
		}
	}
	return false
}

// cors makes the API callable from any origin: browser apps exchange codes
// from their front end, as OpenRouter's PKCE flow lets them. Credentials
// are bearer keys, never cookies, so a wildcard origin is safe.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Access-Control-Allow-Origin"] = anyOrigin
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS")
			// "*" admits the headers browser SDKs add (the openai package's
			// X-Stainless-*); Authorization is never covered by "*" (Fetch
			// standard, CORS-preflight), so it is named.
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, HTTP-Referer, X-Title, X-OpenRouter-Title, X-OpenRouter-Categories, *")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
