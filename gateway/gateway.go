package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/metrics"
)

// DefaultMaxBody is the largest request body the gateway reads: 1 MiB.
const DefaultMaxBody = 1 << 20

// maxAnswer caps an unstreamed upstream answer the gateway reads: 64 MiB.
const maxAnswer = 64 << 20

// Options configures a Gateway. The zero value is usable.
type Options struct {
	// MaxBody is the request body cap in bytes (413 above it); 0 is
	// DefaultMaxBody.
	MaxBody int64
	// Transport reaches the upstreams; nil is NewTransport().
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Metrics, when set, records each upstream call's latency to its
	// response headers and its failures, by upstream name.
	Metrics *metrics.Metrics
}

// Gateway is the metering proxy. Its configuration can be replaced while
// it serves (SetConfig, on SIGHUP).
type Gateway struct {
	svc       *keygate.Service
	log       *slog.Logger
	maxBody   int64
	transport http.RoundTripper
	metrics   *metrics.Metrics
	routes    atomic.Pointer[routes]
	loadedAt  atomic.Int64 // Unix seconds of the configuration's load: "created" in /models
}

// New returns a gateway serving cfg (from LoadConfig) through svc.
func New(svc *keygate.Service, cfg *Config, opts Options) *Gateway {
	g := &Gateway{svc: svc, log: opts.Logger, maxBody: opts.MaxBody, transport: opts.Transport, metrics: opts.Metrics}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBody
	}
	if g.transport == nil {
		g.transport = NewTransport()
	}
	g.SetConfig(cfg)
	return g
}

// SetConfig makes cfg the configuration of every request that starts
// from now; requests in flight finish with the one they started with.
func (g *Gateway) SetConfig(cfg *Config) {
	g.routes.Store(newRoutes(cfg))
	g.loadedAt.Store(g.svc.Now().Unix())
}

// Handlers returns the gateway's routes, by "METHOD /path" pattern, for
// server.Config.Gateway. Each handler returns its error (a *keygate.Error,
// possibly carrying its own HTTP status) for the server to write.
func (g *Gateway) Handlers() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"POST /api/v1/chat/completions": g.proxy("chat/completions"),
		"POST /api/v1/completions":      g.proxy("completions"),
		"POST /api/v1/embeddings":       g.proxy("embeddings"),
		"GET /api/v1/models":            g.models,
		"GET /api/v1/models/{path...}":  g.modelEndpoints,
		"GET /api/v1/generation":        g.generation,
	}
}

func (g *Gateway) proxy(endpoint string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error { return g.serveProxy(w, r, endpoint) }
}

// serveProxy admits, forwards and meters one request. Admission order
// (docs/gateway.md "Admission"): body cap 413 and a malformed body or
// unknown model 400, then the key 401, then the credit balance 402 and the
// limits 403, then the key's guardrails on the model 403, then the
// upstream.
func (g *Gateway) serveProxy(w http.ResponseWriter, r *http.Request, endpoint string) error {
	start, createdAt := time.Now(), g.svc.Now()
	req, err := g.readRequest(w, r, endpoint)
	if err != nil {
		return err
	}
	ctx := r.Context()
	k, err := g.svc.Authenticate(ctx, apitype.Bearer(r.Header))
	if err != nil {
		return err
	}
	referer, title, categories := apitype.AttributionHeaders(r.Header)
	appID, err := g.svc.AttributeApp(ctx, k, keygate.Attribution{Referer: referer, Title: title, Categories: categories})
	if err != nil {
		return err
	}
	res, err := g.svc.Reserve(ctx, k, req.reservation())
	if err != nil {
		return err
	}
	// After the credit balance's 402 and the limits' 403, before anything
	// is forwarded (the admission order of docs/gateway.md).
	if err := g.svc.CheckModel(ctx, k, req.name, req.model.upstream.name); err != nil {
		res.Release()
		return err
	}
	c := &call{
		g: g, w: w, r: r, req: req, res: res, start: start,
		meter: meter{model: req.model, promptBytes: len(req.body)},
		gen: keygate.Generation{
			KeyHash: k.Hash, UserID: k.UserID, WorkspaceID: k.WorkspaceID, AppID: appID,
			Model: req.name, UpstreamModel: req.upstreamName, Provider: req.model.upstream.name,
			Endpoint: endpoint, Streamed: req.stream,
			CreatedAt: createdAt, // the charge lands in the windows of the request's start
		},
	}
	err = c.run()
	res.Release() // a no-op after Settle
	return err
}

// call is one forwarded request.
type call struct {
	g     *Gateway
	w     http.ResponseWriter
	r     *http.Request
	req   *request
	res   *keygate.Reservation
	start time.Time
	meter meter
	gen   keygate.Generation
	// model and created are the stream's, for the error chunk that may
	// end it.
	model   string
	created int64
	started bool // the stream's status and first bytes were sent
}

// run sends the request upstream and relays the answer.
func (c *call) run() error {
	up := c.req.model.upstream
	ctx, cancel := context.WithCancelCause(c.r.Context())
	defer cancel(nil)
	timer := time.AfterFunc(up.Timeout, func() { cancel(errTimeout) })
	defer timer.Stop()
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, up.BaseURL+"/"+c.gen.Endpoint, bytes.NewReader(c.req.body))
	if err != nil {
		return fmt.Errorf("upstream request: %w", err)
	}
	out.Header = upstreamHeaders(c.r.Header, up.apiKey)
	out.ContentLength = int64(len(c.req.body))
	sent := time.Now()
	resp, err := c.g.transport.RoundTrip(out)
	if err != nil {
		if c.r.Context().Err() != nil {
			return nil // the client went away before the upstream answered: nothing produced, nothing charged
		}
		failure := "unreachable"
		if errors.Is(context.Cause(ctx), errTimeout) {
			failure = "timeout"
		}
		c.g.metrics.Upstream(up.name, time.Since(sent), failure)
		c.g.log.WarnContext(ctx, "upstream call failed", "upstream", up.name, "err", err)
		return transportError(ctx)
	}
	defer resp.Body.Close()
	c.gen.Latency = time.Since(c.start)
	body := &idleReader{r: resp.Body, timer: timer, timeout: up.Timeout}
	timer.Reset(up.Timeout)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.g.metrics.Upstream(up.name, time.Since(sent), strconv.Itoa(resp.StatusCode/100)+"xx")
		b, _ := readCapped(body, 64<<10)
		c.g.log.InfoContext(ctx, "upstream error", "upstream", up.name, "status", resp.StatusCode)
		return upstreamError(c.w.Header(), resp, b, up.apiKey, apitype.Bearer(c.r.Header))
	}
	c.g.metrics.Upstream(up.name, time.Since(sent), "")
	if c.req.stream && isEventStream(resp.Header.Get("Content-Type")) {
		return c.relay(ctx, newSSEReader(body), cancel)
	}
	return c.answer(ctx, body)
}

// answer relays an unstreamed answer: read, metered and settled, then
// written, so an answer the client receives is already charged.
func (c *call) answer(ctx context.Context, body io.Reader) error {
	b, err := readCapped(body, maxAnswer)
	if err != nil {
		if c.r.Context().Err() != nil {
			return nil
		}
		return transportError(ctx)
	}
	c.gen.Streamed = false // a stream asked for and answered in one body
	var a answer
	if err := readAnswer(b, &a); err != nil {
		return gatewayError(http.StatusBadGateway, "The upstream of this model answered with a body that is not JSON")
	}
	if len(a.Error) > 0 && string(a.Error) != "null" {
		return gatewayError(http.StatusBadGateway, "The upstream of this model failed: %s", redact(upstreamMessage(b, http.StatusBadGateway), []string{c.req.model.upstream.apiKey}))
	}
	c.meter.usage = a.Usage
	if a.Usage == nil {
		c.meter.outBytes = a.outputBytes() // only the fallback counts the text
	}
	c.gen.ID, c.gen.UpstreamID, c.gen.FinishReason = a.ID, a.ID, a.finishReason()
	if err := c.settle(); err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	// The id to look the answer up by at /api/v1/generation, also for
	// answers that carry none (embeddings).
	h.Set("X-Generation-Id", c.gen.ID)
	h.Set("Access-Control-Expose-Headers", "X-Generation-Id") // readable by browser apps
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(normalizeBody(b, c.gen.Endpoint == "chat/completions"))
	return nil
}

// settle charges the generation. Its context outlives the client: a
// charge for what the upstream produced is made even when the client has
// gone. An upstream id the service refuses (EINVALID: not 1 to 256 visible
// ASCII characters; ECONFLICT: taken by another generation) is replaced by
// the reservation's own (Reservation.GenerationID), rather than leave the
// answer uncharged; the upstream's stays the generation's upstream_id.
func (c *call) settle() error {
	c.meter.fill(&c.gen)
	c.gen.GenerationTime = time.Since(c.start)
	ctx := context.WithoutCancel(c.r.Context())
	err := c.g.svc.Settle(ctx, c.res, &c.gen)
	if code := keygate.ErrorCode(err); (code == keygate.EINVALID || code == keygate.ECONFLICT) && c.gen.ID != "" {
		c.g.log.WarnContext(ctx, "upstream answer id refused; keygate makes one", "err", err)
		c.gen.ID = ""
		err = c.g.svc.Settle(ctx, c.res, &c.gen)
	}
	if err != nil {
		c.g.log.ErrorContext(ctx, "settle failed", "generation", c.gen.ID, "cost_micros", int64(c.gen.Cost), "err", err)
	}
	return err
}

func isEventStream(ct string) bool { return strings.HasPrefix(ct, "text/event-stream") }

var errNoGenerationID = keygate.Errorf(keygate.EINVALID, "id is required")

// generation serves GET /api/v1/generation?id= (OpenRouter spec path GET
// /generation): the stats of one of the caller's own generations; 404 for
// any other id.
func (g *Gateway) generation(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("id")
	k, err := g.svc.Authenticate(r.Context(), apitype.Bearer(r.Header))
	if err != nil {
		return err
	}
	if id == "" {
		return errNoGenerationID
	}
	gen, err := g.svc.Generation(r.Context(), k.UserID, id)
	if err != nil {
		return err
	}
	writeJSON(w, apitype.GenerationResponse{Data: generationJSON(gen)})
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v) // the gateway's own wire types always encode
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
