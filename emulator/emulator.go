package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/metrics"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/sqlite"
)

// Defaults of Options.
const (
	DefaultKeyPrefix       = "sk-or-" // what apps that check OpenRouter's keys expect
	DefaultPromptPrice     = "5"      // USD per million prompt tokens (words)
	DefaultCompletionPrice = "15"     // USD per million completion tokens (words)
	DefaultLoremWords      = 64
	DefaultUpstreamTimeout = 2 * time.Second
	// DevEmail is the user the emulator creates, who approves sign-ins in
	// ModeAuto.
	DevEmail = "dev@localhost"
)

// Options configures an Emulator. The zero value, with PublicURL, is
// usable.
type Options struct {
	// PublicURL is the base URL clients reach the emulator at
	// ("http://127.0.0.1:8080"); required.
	PublicURL string
	// State is a SQLite file that keeps the state across runs; "" keeps
	// it in a temporary file that Close removes.
	State string
	// KeyPrefix is the prefix of minted keys; "" is DefaultKeyPrefix.
	KeyPrefix string
	// Approve is what GET /auth does; "" is ModeAuto.
	Approve Mode
	// PromptPrice and CompletionPrice are the built-in models' prices in
	// USD per million tokens, decimal text; "" is the default.
	PromptPrice, CompletionPrice string
	// LoremWords is the length of keygate/lorem's answer in words
	// (tokens); 0 is DefaultLoremWords.
	LoremWords int
	// ChunkDelay is waited between two chunks of a streamed answer.
	ChunkDelay time.Duration
	// UpstreamTimeout is how long the gateway waits for a built-in model
	// (headers, and each gap in a stream): the "timeout" fault lasts this
	// long. 0 is DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
	// Logger logs the service's and the server's events; nil discards them.
	Logger *slog.Logger
}

// Mode is what GET /auth does with a valid request.
type Mode string

const (
	ModeAuto Mode = "auto" // 302 to the callback with a code, as if the user approved
	ModeDeny Mode = "deny" // 302 to the callback with error=access_denied
	ModeAsk  Mode = "ask"  // the real sign-in and consent pages
)

// ParseMode checks a mode's name.
func ParseMode(field, s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeDeny, ModeAsk:
		return m, nil
	}
	return "", keygate.Errorf(keygate.EINVALID, "%s must be auto, deny or ask", field)
}

// emulatorHasher hashes passwords cheaply: the emulator holds no real
// secret, and a full-cost argon2id would double its memory at start.
var emulatorHasher = keygate.PasswordHasher{Params: &argon2id.Params{
	Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32,
}}

// Emulator is keygate for apps' tests: every endpoint of keygate serve
// over a store of its own, with built-in models, an adjustable clock, GET
// /auth answered without a person, and the control API under /emulator/
// (docs/emulator.md). It is an http.Handler; New starts it and Close
// stops it.
type Emulator struct {
	opts  Options
	log   *slog.Logger
	clock Clock
	rec   recorder

	dir      string // temporary: the start-up snapshot, and the state when Options.State is ""
	live     string // the SQLite file served
	snapshot string // the file as it was at start, which Reset puts back

	models     *http.Server // the built-in models' loopback upstream
	modelsConf *gateway.Config
	transport  http.RoundTripper

	devUserID     string
	apiKey        string // "" when State was made by an earlier run
	managementKey string // likewise
	devPassword   string // likewise

	approval approval

	controls *http.ServeMux // the control API

	mu  sync.RWMutex // held for reading by every request, for writing by Reset
	cur *instance
}

// instance is the served state: a store and the service and handler over
// it. Reset replaces it.
type instance struct {
	store keygate.Store
	svc   *keygate.Service
	srv   *server.Server
}

// New starts an emulator: it opens (or creates) its store, makes the dev
// user and a management key when the store has no dev user, and starts the
// built-in models on a loopback port.
func New(ctx context.Context, opts Options) (_ *Emulator, err error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	e := &Emulator{opts: opts, log: opts.Logger}
	e.controls = e.controlMux()
	e.approval.reset(opts.Approve)
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "keygate-emulate-"); err != nil {
		return nil, err
	}
	e.live, e.snapshot = opts.State, filepath.Join(e.dir, "start.db")
	if e.live == "" {
		e.live = filepath.Join(e.dir, "state.db")
	}
	if err := e.startModels(); err != nil {
		return nil, err
	}
	if e.cur, err = e.open(ctx); err != nil {
		return nil, err
	}
	if err := e.seed(ctx); err != nil {
		return nil, err
	}
	// The snapshot is taken from the closed file, whole.
	err = e.cur.store.Close()
	e.cur = nil
	if err != nil {
		return nil, err
	}
	if err := copyDB(e.live, e.snapshot); err != nil {
		return nil, err
	}
	e.cur, err = e.open(ctx)
	return e, err
}

func (o *Options) fill() error {
	if o.PublicURL == "" {
		return errors.New("emulator: Options.PublicURL is required")
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.Approve == "" {
		o.Approve = ModeAuto
	}
	if _, err := ParseMode("approve", string(o.Approve)); err != nil {
		return err
	}
	if o.PromptPrice == "" {
		o.PromptPrice = DefaultPromptPrice
	}
	if o.CompletionPrice == "" {
		o.CompletionPrice = DefaultCompletionPrice
	}
	if o.LoremWords <= 0 {
		o.LoremWords = DefaultLoremWords
	}
	if o.UpstreamTimeout <= 0 {
		o.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// startModels serves the built-in models on a loopback port and builds
// the gateway configuration that routes to them.
func (e *Emulator) startModels() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.models = &http.Server{
		Handler:           &models{loremWords: e.opts.LoremWords, loremDelay: e.opts.ChunkDelay},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	go e.models.Serve(ln)
	var b strings.Builder
	fmt.Fprintf(&b, "upstreams:\n  keygate:\n    base_url: http://%s\n    timeout: %s\nmodels:\n", ln.Addr(), e.opts.UpstreamTimeout)
	for _, name := range []string{EchoModel, LoremModel} {
		for _, n := range []string{name, name + ":*"} {
			fmt.Fprintf(&b, "  - name: %q\n    upstream: keygate\n    upstream_model: %q\n    reserve_tokens: 256\n    pricing: {prompt: %q, completion: %q}\n",
				n, n, e.opts.PromptPrice, e.opts.CompletionPrice)
		}
	}
	if e.modelsConf, err = gateway.ParseConfig([]byte(b.String()), func(string) string { return "" }); err != nil {
		return fmt.Errorf("emulator prices: %w", err)
	}
	e.transport = faultTransport{gateway.NewTransport()}
	return nil
}

// open opens the live file and builds the service and handler over it.
func (e *Emulator) open(ctx context.Context) (*instance, error) {
	store, err := sqlite.Open(ctx, e.live)
	if err != nil {
		return nil, err
	}
	kc := keygate.DefaultConfig()
	kc.KeyPrefix = e.opts.KeyPrefix
	kc.UsageCacheTTL = 0 // usage set through the control API is seen at once
	m := metrics.New(prometheus.NewRegistry())
	svc := keygate.NewService(store, kc,
		keygate.WithClock(e.clock.Now), keygate.WithLogger(e.log),
		keygate.WithObserver(observer{Observer: m, rec: &e.rec}), keygate.WithPasswordHasher(emulatorHasher))
	m.KeyCacheSize(svc.KeyCacheLen)
	gw := gateway.New(svc, e.modelsConf, gateway.Options{Transport: e.transport, Logger: e.log, Metrics: m})
	srv := server.New(svc, server.Config{
		PublicURL: e.opts.PublicURL, Gateway: gw.Handlers(), Price: gw.Price,
		Metrics: m, ServeMetrics: true, AutoConsent: e.autoConsent,
	}, e.log)
	return &instance{store: store, svc: svc, srv: srv}, nil
}

// seed makes the dev user, its API key and its management key unless the
// store has the dev user already.
func (e *Emulator) seed(ctx context.Context) error {
	svc := e.cur.svc
	if u, err := svc.UserByEmail(ctx, DevEmail); err == nil {
		e.devUserID = u.ID
		return nil
	}
	e.devPassword = keygate.NewToken()[:24]
	u, err := svc.CreateUser(ctx, DevEmail, e.devPassword)
	if err != nil {
		return fmt.Errorf("create %s: %w", DevEmail, err)
	}
	e.devUserID = u.ID
	if e.apiKey, _, err = svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "emulator key"}); err != nil {
		return err
	}
	e.managementKey, _, err = svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "emulator management key", IsManagement: true})
	return err
}

// copyDB copies a closed SQLite file, and its write-ahead log and charge
// journal if they were left (a close that could not commit everything),
// to dst, replacing what dst had.
func copyDB(src, dst string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.RemoveAll(dst + "-charges"); err != nil {
		return err
	}
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(src+suffix, dst+suffix); err != nil && (suffix == "" || !errors.Is(err, os.ErrNotExist)) {
			return err
		}
	}
	segs, err := os.ReadDir(src + "-charges")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.Mkdir(dst+"-charges", 0o700); err != nil {
		return err
	}
	for _, seg := range segs {
		if err := copyFile(filepath.Join(src+"-charges", seg.Name()), filepath.Join(dst+"-charges", seg.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// APIKey returns an API key of the dev user, with no limit: the key an
// app calls models with. "" when the state file was made by an earlier run
// (it was printed then).
func (e *Emulator) APIKey() string { return e.apiKey }

// ManagementKey returns the management key of the dev user, for the key
// management API (/api/v1/keys); it cannot call models, as OpenRouter's
// cannot. "" when the state file was made by an earlier run.
func (e *Emulator) ManagementKey() string { return e.managementKey }

// DevPassword returns the dev user's password for the sign-in page of
// ModeAsk, or "" when the state file was made by an earlier run.
func (e *Emulator) DevPassword() string { return e.devPassword }

// Clock returns the emulator's clock.
func (e *Emulator) Clock() *Clock { return &e.clock }

// ServeHTTP serves the control API under /emulator/ and everything keygate
// serve serves elsewhere.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/emulator" || strings.HasPrefix(r.URL.Path, "/emulator/") {
		e.controls.ServeHTTP(w, r)
		return
	}
	if f := r.Header.Get(FaultHeader); f != "" {
		r = r.WithContext(context.WithValue(r.Context(), faultKey{}, f))
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.cur == nil {
		writeError(w, errStopped)
		return
	}
	e.rec.record(e.cur.srv, e.clock.Now, w, r)
}

// errStopped answers requests after Close, or after a Reset that could
// not reopen the store.
var errStopped = keygate.Errorf(keygate.EUNAVAILABLE, "The emulator is stopped, or its reset failed: see its log")

// service returns the service of the current state, with the function
// that releases it.
func (e *Emulator) service() (*keygate.Service, func(), error) {
	e.mu.RLock()
	if e.cur == nil {
		e.mu.RUnlock()
		return nil, nil, errStopped
	}
	return e.cur.svc, e.mu.RUnlock, nil
}

// Reset puts back the state the emulator started with (the dev user and
// its management key, or the state file as it was at start), the clock
// on the real time, the approve mode of Options, and forgets what was
// recorded. It waits for requests in flight.
func (e *Emulator) Reset(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != nil {
		if err := e.cur.store.Close(); err != nil {
			return err
		}
		e.cur = nil
	}
	if err := copyDB(e.snapshot, e.live); err != nil {
		return err
	}
	e.clock.reset()
	e.rec.reset()
	e.approval.reset(e.opts.Approve)
	var err error
	e.cur, err = e.open(ctx)
	return err
}

// Close stops the built-in models, closes the store and removes the
// temporary files. Serving stops with the caller's HTTP server.
func (e *Emulator) Close() error {
	var errs []error
	if e.models != nil {
		errs = append(errs, e.models.Close())
	}
	e.mu.Lock()
	if e.cur != nil {
		errs = append(errs, e.cur.store.Close())
		e.cur = nil
	}
	e.mu.Unlock()
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// faultKey is the context key of a request's FaultHeader, which the
// gateway does not forward (it sends no X-Keygate-* header upstream);
// faultTransport puts it back on the call to the built-in models.
type faultKey struct{}

type faultTransport struct{ http.RoundTripper }

func (t faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f, ok := r.Context().Value(faultKey{}).(string); ok {
		r = r.Clone(r.Context())
		r.Header.Set(FaultHeader, f)
	}
	return t.RoundTripper.RoundTrip(r)
}
