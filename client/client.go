package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes caps how much of a response body is read.
const maxResponseBytes = 1 << 20

// Client calls keygate's (or OpenRouter's) auth and key API. It is safe for
// concurrent use; its fields are set once by New.
type Client struct {
	base       *url.URL // the API base, e.g. https://keys.example.com/api/v1
	baseErr    error    // why baseURL is unusable; returned by every call
	apiKey     string
	hc         *http.Client
	userAgent  string
	referer    string
	title      string
	categories string
	retries    int
	backoff    time.Duration // first retry delay; doubled each time

	// Keys and Workspaces group the management API, which needs a
	// management key.
	Keys       Keys
	Workspaces Workspaces
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sets the key sent as "Authorization: Bearer <key>". The code
// exchange needs none; every other call does.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient replaces http.DefaultClient; nil keeps it.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithAttribution names the calling app on every request, as OpenRouter's
// app attribution does: HTTP-Referer is the app's URL, X-OpenRouter-Title
// its name and X-OpenRouter-Categories a comma-separated list of
// categories such as "cli-agent". Empty values send no header.
func WithAttribution(referer, title string, categories ...string) Option {
	return func(c *Client) {
		c.referer, c.title, c.categories = referer, title, strings.Join(categories, ",")
	}
}

// WithRetries sets how many times an idempotent call (GET, HEAD, PUT) is
// retried after 429, 502, 503 or 504. The default is 2; 0 turns retries off.
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// New returns a client for the API at baseURL, such as
// "https://openrouter.ai/api/v1" or "http://127.0.0.1:8080/api/v1" (the
// official SDKs' serverURL). A baseURL that is not an absolute http or https
// URL makes every call fail with the reason.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		hc:        http.DefaultClient,
		userAgent: "keygate-go",
		retries:   2,
		backoff:   250 * time.Millisecond,
	}
	c.base, c.baseErr = parseBase(baseURL)
	for _, o := range opts {
		o(c)
	}
	c.Keys = Keys{c}
	c.Workspaces = Workspaces{c}
	return c
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want an absolute http or https URL", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

// call sends one API request and decodes a 2xx JSON answer into out (which
// may be nil). path is below the base URL with its segments escaped; in,
// when not nil, is sent as JSON. Non-2xx answers become *Error.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode request: %w", err)
		}
		body = b
	}
	u := c.base.String() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	idempotent := method == http.MethodGet || method == http.MethodHead || method == http.MethodPut
	for attempt := 0; ; attempt++ {
		res, err := c.send(ctx, method, u, body)
		if err != nil {
			return err
		}
		if res.status/100 == 2 {
			if out == nil || res.status == http.StatusNoContent {
				return nil
			}
			if err := json.Unmarshal(res.body, out); err != nil {
				return fmt.Errorf("client: %s %s: decode response: %w", method, path, err)
			}
			return nil
		}
		apiErr := newError(res.status, res.body)
		if !idempotent || attempt >= c.retries || !retryable(res.status) {
			return apiErr
		}
		wait, ok := c.delay(attempt, res.header.Get("Retry-After"))
		if !ok {
			return apiErr
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return apiErr // waiting would outlive ctx: the server's answer says more than DeadlineExceeded
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return apiErr
		case <-t.C:
		}
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// send does one HTTP round trip and reads at most maxResponseBytes.
func (c *Client) send(ctx context.Context, method, u string, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	h := req.Header
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		h.Set("Authorization", "Bearer "+c.apiKey)
	}
	if c.referer != "" {
		h.Set("HTTP-Referer", c.referer)
	}
	if c.title != "" {
		h.Set("X-OpenRouter-Title", c.title)
	}
	if c.categories != "" {
		h.Set("X-OpenRouter-Categories", c.categories)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err // *url.Error names the method and URL; the URL never carries a secret
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read response: %w", method, req.URL.Path, err)
	}
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("client: %s %s: response larger than %d bytes", method, req.URL.Path, maxResponseBytes)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// maxRetryWait is the longest the client waits before a retry. A server
// that asks for more gets its error returned instead.
const maxRetryWait = 30 * time.Second

// delay is how long to wait before retry number attempt+1, and false when
// the call should not be retried: the server's Retry-After when it gives
// one (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), else exponential
// backoff with jitter.
func (c *Client) delay(attempt int, retryAfter string) (time.Duration, bool) {
	if retryAfter != "" {
		var d time.Duration
		if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
			d = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(retryAfter); err == nil {
			d = max(time.Until(t), 0)
		} else {
			return c.delay(attempt, "")
		}
		return d, d <= maxRetryWait
	}
	d := min(c.backoff<<attempt, maxRetryWait)
	return d/2 + rand.N(d/2+1), true
}
