// Package keygatetest runs keygate's emulator (package emulator, `keygate
// emulate`) inside Go tests, as httptest.NewServer runs a handler: an
// offline OpenRouter on a loopback port, with state of its own, GET /auth
// approved at once, the built-in models keygate/echo and keygate/lorem,
// and helpers that drive time, usage and the approve mode.
//
//	srv := keygatetest.New(t)
//	client := openai.NewClient(option.WithBaseURL(srv.URL+"/api/v1"), option.WithAPIKey(srv.APIKey))
//
// docs/emulator.md describes the emulator's behaviour.
package keygatetest

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/emulator"
)

// Server is an emulator serving on a loopback port.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:<port>": the OpenRouter
	// server URL apps are given (the API is under URL + "/api/v1").
	URL string
	// APIKey is an API key of emulator.DevEmail, with no limit: the key to
	// call models with.
	APIKey string
	// ManagementKey is a management key of emulator.DevEmail, for the key
	// management API; it cannot call models.
	ManagementKey string
	// Emulator is the emulator itself, for what the helpers do not cover.
	Emulator *emulator.Emulator

	t    testing.TB // nil for a Server made by Start
	http *http.Server
}

// Option changes the emulator's options.
type Option func(*emulator.Options)

// WithApprove sets what GET /auth does (default emulator.ModeAuto).
func WithApprove(m emulator.Mode) Option { return func(o *emulator.Options) { o.Approve = m } }

// WithKeyPrefix sets the prefix of minted keys (default "sk-or-").
func WithKeyPrefix(p string) Option { return func(o *emulator.Options) { o.KeyPrefix = p } }

// WithPrices sets the built-in models' prices, decimal USD per million
// prompt and completion tokens (words).
func WithPrices(prompt, completion string) Option {
	return func(o *emulator.Options) { o.PromptPrice, o.CompletionPrice = prompt, completion }
}

// WithLorem sets keygate/lorem's length in words and the wait between two
// chunks of a stream (0 by default in tests).
func WithLorem(words int, chunkDelay time.Duration) Option {
	return func(o *emulator.Options) { o.LoremWords, o.ChunkDelay = words, chunkDelay }
}

// WithUpstreamTimeout sets how long the gateway waits for a built-in
// model, and so how long the "timeout" fault lasts.
func WithUpstreamTimeout(d time.Duration) Option {
	return func(o *emulator.Options) { o.UpstreamTimeout = d }
}

// New starts an emulator for t and stops it when t ends. A failure to
// start, and any helper's error, fails t.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("keygatetest: %v", err)
	}
	s.t = t
	t.Cleanup(s.Close)
	return s
}

// Start starts an emulator outside a test (in TestMain, or an Example);
// Close stops it. Its helpers panic on error.
func Start(opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := emulator.Options{PublicURL: "http://" + ln.Addr().String()}
	for _, opt := range opts {
		opt(&o)
	}
	emu, err := emulator.New(context.Background(), o)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{URL: o.PublicURL, APIKey: emu.APIKey(), ManagementKey: emu.ManagementKey(), Emulator: emu,
		http: &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}}
	go s.http.Serve(ln)
	return s, nil
}

// Close stops serving, closing connections still open, and removes the
// emulator's state.
func (s *Server) Close() {
	s.http.Close()
	s.Emulator.Close()
}

// check fails the test, or panics outside one, on err.
func (s *Server) check(err error) {
	if err == nil {
		return
	}
	if s.t != nil {
		s.t.Helper()
		s.t.Fatalf("keygatetest: %v", err)
	}
	panic("keygatetest: " + err.Error())
}

// AdvanceClock moves the emulator's clock d ahead: usage periods, code
// and key expiries and sessions see the new time at once.
func (s *Server) AdvanceClock(d time.Duration) {
	if d < 0 {
		s.check(keygate.Errorf(keygate.EINVALID, "AdvanceClock: the clock only moves ahead"))
	}
	s.Emulator.Clock().Advance(d)
}

// SetUsage makes the usage of key (its secret or its hash), in the window
// of its limit, usd (emulator.Emulator.SetUsage), and returns the key's
// state.
func (s *Server) SetUsage(key string, usd float64) *keygate.KeyInfo {
	if keygate.WellFormedKey(key) {
		key = keygate.HashSecret(key)
	}
	info, err := s.Emulator.SetUsage(context.Background(), key, usd)
	s.check(err)
	return info
}

// Approve makes GET /auth do mode from now on.
func (s *Server) Approve(mode emulator.Mode) {
	s.check(s.Emulator.Approve(context.Background(), mode, 0, ""))
}

// CreateKey creates a key (of emulator.DevEmail unless p names a user)
// and returns its secret.
func (s *Server) CreateKey(p emulator.KeyParams) string {
	secret, _, err := s.Emulator.CreateKey(context.Background(), p)
	s.check(err)
	return secret
}

// Reset puts back the state the emulator started with.
func (s *Server) Reset() { s.check(s.Emulator.Reset(context.Background())) }
