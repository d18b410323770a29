package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/keygate/keygate"
)

// NewTransport returns the Transport the gateway shares across upstreams:
// keep-alives with enough idle connections per host for a busy upstream,
// and gzip decoded by the Transport (the gateway never asks for an
// encoding itself, so what it relays is always plain).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // upstreams come from the models file only
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1, which a proxy
// never forwards (the list net/http/httputil.ReverseProxy removes).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// privateHeaders carry the client's credentials or keygate's own business,
// or describe a body that is rewritten: none reaches an upstream.
var privateHeaders = []string{
	"Authorization", "Cookie", "X-Api-Key", "Api-Key", "Host", "Content-Length", "Accept-Encoding",
}

// upstreamHeaders returns the headers sent upstream: the client's, minus
// hop-by-hop, credential and X-Keygate-* headers, plus the upstream's own
// credential from the models file.
func upstreamHeaders(in http.Header, apiKey string) http.Header {
	out := make(http.Header, len(in)+2)
	for k, v := range in {
		out[k] = v
	}
	for _, f := range in["Connection"] {
		for _, h := range strings.Split(f, ",") {
			out.Del(strings.TrimSpace(h))
		}
	}
	for _, h := range hopHeaders {
		out.Del(h)
	}
	for _, h := range privateHeaders {
		out.Del(h)
	}
	for k := range out {
		if strings.HasPrefix(k, "X-Keygate-") {
			delete(out, k)
		}
	}
	out["Content-Type"] = []string{"application/json"}
	if apiKey != "" {
		out["Authorization"] = []string{"Bearer " + apiKey}
	}
	return out
}

// errTimeout is the cause of an upstream call's cancellation when its
// timeout fires.
var errTimeout = errors.New("upstream timed out")

// statusError is a *keygate.Error with the HTTP status it is answered with
// (the server's status table honours it), for upstream statuses that have
// no keygate code of their own.
type statusError struct {
	status int
	err    *keygate.Error
}

func (e *statusError) Error() string   { return e.err.Error() }
func (e *statusError) Unwrap() error   { return e.err }
func (e *statusError) HTTPStatus() int { return e.status }

func gatewayError(status int, format string, args ...any) error {
	return &statusError{status: status, err: keygate.Errorf(keygate.EINTERNAL, format, args...)}
}

var (
	errUnreachable = gatewayError(http.StatusBadGateway, "The upstream of this model cannot be reached")
	errUpstreamTO  = gatewayError(http.StatusGatewayTimeout, "The upstream of this model timed out")
	errRefused     = gatewayError(http.StatusBadGateway, "The upstream of this model refused keygate's credentials; the operator must fix its configuration")
)

// transportError is the client-facing error of a failed upstream call: 504
// when the timeout fired, else 502. Neither names the upstream's URL, host
// or address.
func transportError(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return errUpstreamTO
	}
	return errUnreachable
}

// upstreamError maps an upstream's non-2xx answer (docs/gateway.md
// "Errors from upstreams"). The caller's own mistakes (400, 404, 413, 422, 429) keep their
// status, with the upstream's message, credential-like strings removed;
// 429 keeps its Retry-After (set on h). The upstream refusing keygate's
// credential (401, 402, 403) is a 502 with keygate's own message, never the
// upstream's body, which may quote the credential. Anything else is a 502.
func upstreamError(h http.Header, resp *http.Response, body []byte, secrets ...string) error {
	switch s := resp.StatusCode; s {
	case 400, 404, 413, 422, 429:
		if ra := resp.Header.Get("Retry-After"); s == 429 && ra != "" {
			h.Set("Retry-After", ra)
		}
		return &statusError{status: s, err: keygate.Errorf(keygate.EINVALID, "Upstream: %s", redact(upstreamMessage(body, s), secrets))}
	case 401, 402, 403:
		return errRefused
	default:
		return gatewayError(http.StatusBadGateway, "The upstream of this model failed (status %d)", s)
	}
}

// upstreamMessage finds the message of an error body: OpenAI's and
// OpenRouter's {"error":{"message"}}, {"error":"…"}, {"message":"…"}, or
// the start of the text.
func upstreamMessage(body []byte, status int) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		var e struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Error, &e) == nil && e.Message != "":
			return e.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			return s
		case v.Message != "":
			return v.Message
		}
	}
	if t := strings.TrimSpace(string(bytes.ToValidUTF8(body[:min(len(body), 300)], nil))); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}

// credentialLike matches what looks like a credential: a bearer value,
// a prefixed key (sk-…, key_…), or a long run of key characters.
var credentialLike = regexp.MustCompile(`(?i)bearer\s+\S+|\b(sk|pk|rk|ak|key|api|token|secret)[-_][A-Za-z0-9._\-]{6,}|[A-Za-z0-9_\-]{32,}`)

// redact removes the given secrets and anything credential-like from msg.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return credentialLike.ReplaceAllString(msg, "[redacted]")
}

// idleReader resets the upstream timeout on every read that returns
// bytes, so the timeout bounds each gap, not the whole body.
type idleReader struct {
	r       io.Reader
	timer   *time.Timer
	timeout time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.timeout)
	}
	return n, err
}

// readCapped reads at most max bytes of r; more is an error.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("upstream body over %d bytes", max)
	}
	return b, err
}
