package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keygate/keygate"
)

// Metrics holds keygate's collectors. Its methods are safe for concurrent
// use and do nothing on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	keyLookups      *prometheus.CounterVec
	keyHits         prometheus.Counter // keyLookups{result="hit"}, resolved once: every request looks a key up
	keyMisses       prometheus.Counter
	upstreamLatency *prometheus.HistogramVec
	upstreamErrors  *prometheus.CounterVec
	tokens          *prometheus.CounterVec
	cost            *prometheus.CounterVec
	appCost         *prometheus.CounterVec
	limitRefusals   *prometheus.CounterVec
	policyRefusals  *prometheus.CounterVec
	usageBatches    *prometheus.CounterVec
	usageLatency    prometheus.Histogram
	codes           *prometheus.CounterVec
	replays         prometheus.Counter

	models, apps bounded
}

// New returns Metrics whose collectors, with the Go runtime's and the
// process's, are registered on reg.
func New(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg:    reg,
		models: bounded{seen: map[string]bool{}},
		apps:   bounded{seen: map[string]bool{}},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status class.",
		}, []string{"route", "method", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keygate_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "code"}),
		keyLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_key_cache_lookups_total",
			Help: "Key lookups by whether the in-process key cache answered (hit: the key, or that the store did not know it a moment ago) or the store was read (miss).",
		}, []string{"result"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keygate_gateway_upstream_latency_seconds",
			Help:    "Gateway: time from sending a request upstream to its response headers, by upstream.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"upstream"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_gateway_upstream_errors_total",
			Help: "Gateway: upstream requests that failed, by upstream and kind (unreachable, timeout, status class).",
		}, []string{"upstream", "kind"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_tokens_total",
			Help: "Tokens charged, by model (the first 200 names, then \"other\") and kind (prompt, completion).",
		}, []string{"model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_cost_microdollars_total",
			Help: "Money charged to keys, in micro-dollars, by model.",
		}, []string{"model"}),
		appCost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_app_cost_microdollars_total",
			Help: "Money charged to keys, in micro-dollars, by app id (the first 200 ids, then \"other\"; \"none\" for requests of no app).",
		}, []string{"app_id"}),
		limitRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_limit_rejections_total",
			Help: "Requests refused because a key's limit was reached, by the limit's window (daily, weekly, monthly, total).",
		}, []string{"window"}),
		policyRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_policy_rejections_total",
			Help: "Requests refused by a policy above the key, by policy (workspace_budget, guardrail_limit, guardrail_model).",
		}, []string{"policy"}),
		usageBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_usage_batches_total",
			Help: "POST /api/v1/usage batches, by result (ok, error).",
		}, []string{"result"}),
		usageLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keygate_usage_write_duration_seconds",
			Help:    "Time to charge one POST /api/v1/usage batch durably.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		codes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keygate_auth_codes_total",
			Help: "Authorization codes by event (issued, exchanged).",
		}, []string{"event"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keygate_auth_code_replays_total",
			Help: "Authorization codes presented again after their exchange (RFC 6749 §4.1.2): the key they minted is revoked.",
		}),
	}
	m.keyHits, m.keyMisses = m.keyLookups.WithLabelValues("hit"), m.keyLookups.WithLabelValues("miss")
	reg.MustRegister(
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		m.requests, m.requestDuration, m.keyLookups, m.upstreamLatency, m.upstreamErrors, m.tokens, m.cost,
		m.appCost, m.limitRefusals, m.policyRefusals, m.usageBatches, m.usageLatency, m.codes, m.replays,
	)
	return m
}

// Handler serves the registry in the Prometheus text format (GET
// /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// KeyCacheSize registers a gauge of the key cache's entries, read by size
// at each scrape (keygate.Service.KeyCacheLen).
func (m *Metrics) KeyCacheSize(size func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keygate_key_cache_entries",
		Help: "Keys held in the in-process key cache.",
	}, func() float64 { return float64(size()) }))
}

// Request records one HTTP request answered: route is the pattern that
// served it ("" for none, recorded as "unmatched"), status its status.
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	code := strconv.Itoa(status/100) + "xx"
	m.requests.WithLabelValues(route, methodLabel(method), code).Inc()
	m.requestDuration.WithLabelValues(route, code).Observe(d.Seconds())
}

// methodLabel bounds the method label to the methods keygate's routes
// serve.
func methodLabel(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return method
	}
	return "other"
}

// Upstream records one gateway request to upstream (the models file's
// name of it): the time to its response headers, and, when it failed,
// why: "unreachable", "timeout", or its status class ("5xx").
func (m *Metrics) Upstream(upstream string, d time.Duration, failure string) {
	if m == nil {
		return
	}
	m.upstreamLatency.WithLabelValues(upstream).Observe(d.Seconds())
	if failure != "" {
		m.upstreamErrors.WithLabelValues(upstream, failure).Inc()
	}
}

// UsageBatch records one POST /api/v1/usage batch and how long the
// service took to charge it.
func (m *Metrics) UsageBatch(err error, d time.Duration) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.usageBatches.WithLabelValues(result).Inc()
	if err == nil {
		m.usageLatency.Observe(d.Seconds())
	}
}

// KeyLookup implements keygate.Observer.
func (m *Metrics) KeyLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.keyHits.Inc()
	} else {
		m.keyMisses.Inc()
	}
}

// Charged implements keygate.Observer.
func (m *Metrics) Charged(g *keygate.Generation) {
	if m == nil {
		return
	}
	model := m.models.value(g.Model)
	m.tokens.WithLabelValues(model, "prompt").Add(float64(g.PromptTokens))
	m.tokens.WithLabelValues(model, "completion").Add(float64(g.CompletionTokens))
	m.cost.WithLabelValues(model).Add(float64(g.Cost))
	app := "none"
	if g.AppID != nil {
		app = m.apps.value(strconv.FormatInt(*g.AppID, 10))
	}
	m.appCost.WithLabelValues(app).Add(float64(g.Cost))
}

// LimitRefused implements keygate.Observer.
func (m *Metrics) LimitRefused(window string) {
	if m == nil {
		return
	}
	m.limitRefusals.WithLabelValues(window).Inc()
}

// PolicyRefused implements keygate.PolicyObserver.
func (m *Metrics) PolicyRefused(policy string) {
	if m == nil {
		return
	}
	m.policyRefusals.WithLabelValues(policy).Inc()
}

// Audited implements keygate.Observer: codes issued and exchanged, and
// replays, come from the audit events of the code flow.
func (m *Metrics) Audited(action string) {
	if m == nil {
		return
	}
	switch action {
	case keygate.AuditCodeCreated:
		m.codes.WithLabelValues("issued").Inc()
	case keygate.AuditCodeExchanged:
		m.codes.WithLabelValues("exchanged").Inc()
	case keygate.AuditReplayDetected:
		m.replays.Inc()
	}
}

var _ keygate.Observer = (*Metrics)(nil)

// maxLabelValues bounds how many values the model and app_id labels take;
// later values are counted under "other".
const maxLabelValues = 200

// bounded admits at most maxLabelValues distinct label values.
type bounded struct {
	mu   sync.Mutex
	seen map[string]bool
}

// value returns v if it is one of the first maxLabelValues values seen
// and is 1 to 100 printable ASCII characters, else "other".
func (b *bounded) value(v string) string {
	if v == "" || len(v) > 100 || strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return "other"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= maxLabelValues {
		return "other"
	}
	b.seen[v] = true
	return v
}
