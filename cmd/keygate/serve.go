package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/metrics"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/sqlite"
)

// ServeConfig is everything `keygate serve` is configured with.
type ServeConfig struct {
	Addr           string
	Database       string
	PublicURL      string
	KeyPrefix      string
	CodeTTL        time.Duration
	RequirePKCE    bool
	Dev            bool
	Signup         string  // closed, invite or open; "" is closed, or open with Dev
	RateLimit      float64 // requests per second per client IP; 0 is off
	TrustedProxies []string
	LogLevel       string
	Pprof          string // loopback host:port for net/http/pprof; "" is off
	Models         string // the gateway's models file; "" serves no gateway
	MaxBody        int64  // the gateway's request body cap in bytes; 0 is gateway.DefaultMaxBody
	MetricsAddr    string // host:port serving GET /metrics apart from the API; "" serves it on Addr
	SQLiteMmapMiB  int64  // SQLite's memory-mapped part of the file, MiB; 0 is sqlite.DefaultMmapSize, -1 is off
	SQLiteCacheMiB int64  // SQLite's page cache per connection, MiB; 0 is sqlite.DefaultCacheSize
	// KeyCacheTTL is how long a cached key and its usage are trusted; 0
	// is the store's default (tuneForStore).
	KeyCacheTTL time.Duration

	// OIDC is sign-in through upstream OpenID providers (oidc.go).
	OIDC OIDCConfig
}

// sqliteOptions are the SQLite read tuning c asks for.
func (c *ServeConfig) sqliteOptions() []sqlite.Option {
	var opts []sqlite.Option
	switch {
	case c.SQLiteMmapMiB < 0:
		opts = append(opts, sqlite.WithMmapSize(0))
	case c.SQLiteMmapMiB > 0:
		opts = append(opts, sqlite.WithMmapSize(c.SQLiteMmapMiB<<20))
	}
	if c.SQLiteCacheMiB > 0 {
		opts = append(opts, sqlite.WithCacheSize(c.SQLiteCacheMiB<<20))
	}
	return opts
}

// Validate reports every problem of c at once.
func (c *ServeConfig) Validate() error {
	_, err := c.parse()
	return err
}

// parsedConfig is what a valid ServeConfig's text says.
type parsedConfig struct {
	level   slog.Level
	proxies []*net.IPNet
	oidc    []server.OIDCProvider
}

// parse checks c and parses its text values, reporting every problem at
// once: Validate and Open both use it, so each value is parsed in one
// place.
func (c *ServeConfig) parse() (*parsedConfig, error) {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: want host:port", c.Addr))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("--public-url %q: want an http:// or https:// URL", c.PublicURL))
	}
	if c.CodeTTL < time.Second || c.CodeTTL > time.Hour {
		errs = append(errs, fmt.Errorf("--code-ttl %s: want between 1s and 1h (RFC 6749 §4.1.2 recommends at most 10m)", c.CodeTTL))
	}
	if c.KeyPrefix == "" || len(c.KeyPrefix) > 32 || strings.ContainsAny(c.KeyPrefix, " \t\r\n") {
		errs = append(errs, fmt.Errorf("--key-prefix %q: want 1 to 32 characters without spaces", c.KeyPrefix))
	}
	if _, err := keygate.ParseSignupPolicy(c.Signup); err != nil {
		errs = append(errs, fmt.Errorf("--signup %q: want closed, invite or open", c.Signup))
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("--rate-limit %v: want >= 0", c.RateLimit))
	}
	var p parsedConfig
	var err error
	if p.proxies, err = parseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if p.level, err = parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.Pprof != "" {
		if err := checkLoopback("--pprof", c.Pprof); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr %q: want host:port", c.MetricsAddr))
		}
	}
	if c.SQLiteMmapMiB < -1 || c.SQLiteMmapMiB > 2048 {
		errs = append(errs, fmt.Errorf("--sqlite-mmap-mib %d: want 1 to 2048, or -1 (off)", c.SQLiteMmapMiB))
	}
	if c.SQLiteCacheMiB < 0 || c.SQLiteCacheMiB > 1<<16 {
		errs = append(errs, fmt.Errorf("--sqlite-cache-mib %d: want 1 to 65536", c.SQLiteCacheMiB))
	}
	if p.oidc, err = c.OIDC.providers(getenv); err != nil {
		errs = append(errs, err)
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--key-cache-ttl %s: want at most 24h (0: the store's default)", c.KeyCacheTTL))
	}
	if c.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("--max-body %d: want a positive number of bytes (0 is the default)", c.MaxBody))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &p, nil
}

func newServeCmd() *cobra.Command {
	cfg := &ServeConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the keygate HTTP server",
		Long: `Run the keygate HTTP server. Every flag can also be set with an environment
variable named KEYGATE_ and the flag in upper snake case (KEYGATE_PUBLIC_URL).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := Open(cmd.Context(), *cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer m.Close()
			return m.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	addDatabaseFlag(cmd, &cfg.Database)
	f.StringVar(&cfg.PublicURL, "public-url", "", "externally visible base URL (default http://<addr>)")
	f.StringVar(&cfg.KeyPrefix, "key-prefix", keygate.DefaultKeyPrefix, "prefix of minted keys (sk-or- imitates OpenRouter)")
	f.DurationVar(&cfg.CodeTTL, "code-ttl", 10*time.Minute, "how long an authorization code is valid")
	f.BoolVar(&cfg.RequirePKCE, "require-pkce", false, "refuse authorization codes without a code_challenge")
	f.BoolVar(&cfg.Dev, "dev", false, "create a dev user and management key on first start and print them")
	f.StringVar(&cfg.Signup, "signup", "", "who may create an account at /signup: closed (admins and the CLI only), invite (with an admin's invite link) or open (default closed; open with --dev)")
	f.Float64Var(&cfg.RateLimit, "rate-limit", 20, "requests per second per client IP on the code, exchange and login endpoints (burst 10x; sign-ins a tenth of it, burst 5); 0 turns it off")
	f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxies", nil, "CIDRs of proxies whose X-Forwarded-For is trusted")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&cfg.Pprof, "pprof", "", "serve net/http/pprof, and the store's count of write transactions at /debug/writes, on this loopback host:port, apart from the API (off when empty)")
	f.StringVar(&cfg.Models, "models", "", "YAML file of the gateway's upstreams and models (docs/gateway.md); reloaded on SIGHUP; no gateway when empty")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at GET /metrics on this host:port instead of on --addr")
	f.Int64Var(&cfg.MaxBody, "max-body", gateway.DefaultMaxBody, "largest gateway request body in bytes (413 above)")
	f.Int64Var(&cfg.SQLiteMmapMiB, "sqlite-mmap-mib", sqlite.DefaultMmapSize>>20, "MiB of a SQLite file read through memory-mapped I/O (-1 turns it off; docs/benchmarks.md)")
	f.Int64Var(&cfg.SQLiteCacheMiB, "sqlite-cache-mib", sqlite.DefaultCacheSize>>20, "MiB of SQLite page cache per database connection (five connections)")
	f.DurationVar(&cfg.KeyCacheTTL, "key-cache-ttl", 0, "how long a cached key and its usage are trusted if a change announcement is missed (0: 10m on SQLite, 5s on PostgreSQL)")
	addOIDCFlags(f, &cfg.OIDC)
	return cmd
}

// Main is an open keygate server: its store, its listener and its HTTP
// server, built by Open. Tests boot it on 127.0.0.1:0.
type Main struct {
	Config ServeConfig
	// Stdout receives what the operator must see (the --dev credentials).
	Stdout io.Writer

	log      *slog.Logger
	svc      *keygate.Service
	store    keygate.Store
	gateway  *gateway.Gateway // nil without --models
	metrics  *metrics.Metrics
	listener net.Listener
	http     *http.Server
}

// Open checks cfg, opens its store and its listener and builds the
// handler, logging at cfg.LogLevel as text to stderr. On error everything
// it opened is released; otherwise the caller serves with Run and
// releases with Close.
func Open(ctx context.Context, cfg ServeConfig, stdout, stderr io.Writer) (_ *Main, err error) {
	p, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	m := &Main{Config: cfg, Stdout: stdout}
	m.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: p.level}))
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.store, err = openStore(ctx, cfg.Database, cfg.sqliteOptions()...); err != nil {
		return nil, err
	}
	kc := keygate.DefaultConfig()
	kc.KeyPrefix, kc.CodeTTL, kc.RequirePKCE = cfg.KeyPrefix, cfg.CodeTTL, cfg.RequirePKCE
	kc.Signup = signupPolicy(cfg)
	tuneForStore(m.store, &kc, cfg.KeyCacheTTL)
	kc.TokenIssuer = strings.TrimRight(cfg.PublicURL, "/") // "" is keygate.DefaultTokenIssuer
	m.metrics = metrics.New(prometheus.NewRegistry())
	m.svc = keygate.NewService(m.store, kc, keygate.WithLogger(m.log), keygate.WithObserver(m.metrics),
		keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	if err = m.svc.EnsureSigningKey(ctx); err != nil {
		return nil, err
	}
	m.metrics.KeyCacheSize(m.svc.KeyCacheLen)

	if m.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + m.listener.Addr().String()
	}
	sc := server.Config{
		PublicURL: publicURL, TrustedProxies: p.proxies, RateLimit: cfg.RateLimit,
		Metrics: m.metrics, ServeMetrics: cfg.MetricsAddr == "",
		OIDC: p.oidc, NoPasswordLogin: cfg.OIDC.NoPasswordLogin,
	}
	if cfg.Models != "" {
		if err = m.openGateway(); err != nil {
			return nil, err
		}
		sc.Gateway = m.gateway.Handlers()
		sc.Price = m.gateway.Price
	}
	h := server.New(m.svc, sc, m.log)
	m.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      10 * time.Minute, // long enough for streamed gateway responses
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.log.Info("keygate listening", "addr", m.listener.Addr().String(), "public_url", publicURL, "version", version)
	if cfg.Dev {
		if err := m.devSetup(ctx, publicURL); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Run serves until ctx is done, then drains in-flight requests. It does
// not close the store: Close does.
func (m *Main) Run(ctx context.Context) error {
	if m.Config.Pprof != "" {
		if _, err := servePprof(ctx, m.Config.Pprof, m.log, m.store); err != nil {
			return err
		}
	}
	if m.Config.MetricsAddr != "" {
		if _, err := serveMetrics(ctx, m.Config.MetricsAddr, m.metrics, m.log); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- m.http.Serve(m.listener) }()
	go m.sweepCodes(ctx)
	go m.watchChanges(ctx)
	if m.gateway != nil {
		go m.reloadModelsOnSIGHUP(ctx)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	m.log.Info("shutting down: draining in-flight requests")
	if err := m.http.Shutdown(shutdownCtx); err != nil {
		return err
	}
	m.log.Info("stopped")
	return nil
}

// Close releases the listener (closing connections still open) and the
// store. It may be called on a Main that Open left half built.
func (m *Main) Close() error {
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Close())
	}
	// Closed already when Run served on it.
	if m.listener != nil {
		if err := m.listener.Close(); !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

// Addr returns the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// sweepCodes deletes, every minute, the codes the service's retention
// rule lets go (keygate.Service.SweepAuthCodes).
func (m *Main) sweepCodes(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.svc.SweepAuthCodes(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("sweep expired codes", "err", err)
			}
		}
	}
}

func parseCIDRs(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		if !strings.Contains(s, "/") {
			if ip := net.ParseIP(s); ip != nil && ip.To4() != nil {
				s += "/32"
			} else {
				s += "/128"
			}
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies %q: want an IP or CIDR", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// signupPolicy is --signup, parsed by Validate already; unset, it is
// closed, or open under --dev.
func signupPolicy(cfg ServeConfig) keygate.SignupPolicy {
	if cfg.Signup == "" && cfg.Dev {
		return keygate.SignupOpen
	}
	p, _ := keygate.ParseSignupPolicy(cfg.Signup)
	return p
}
