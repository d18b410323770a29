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

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/emulator"
	"github.com/keygate/keygate/gateway"
)

// EmulateConfig is everything `keygate emulate` is configured with.
type EmulateConfig struct {
	Addr            string
	PublicURL       string
	State           string
	KeyPrefix       string
	Approve         string
	PromptPrice     string
	CompletionPrice string
	LoremWords      int
	ChunkDelay      time.Duration
	UpstreamTimeout time.Duration
	LogLevel        string
}

func newEmulateCmd() *cobra.Command {
	cfg := &EmulateConfig{}
	cmd := &cobra.Command{
		Use:   "emulate",
		Short: "Run an offline OpenRouter for apps' tests: sign-in approved at once, built-in models, a control API",
		Long: `Run keygate as an emulator of OpenRouter's auth, key and chat API for apps' tests
and CI: state in memory (or --state FILE), GET /auth approved at once (--approve),
the built-in models keygate/echo and keygate/lorem with faults on request, and a
control API under /emulator/ (docs/emulator.md). Every flag can also be set with
an environment variable named KEYGATE_ and the flag in upper snake case.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return emulate(cmd.Context(), *cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&cfg.PublicURL, "public-url", "", "externally visible base URL (default http://<addr>)")
	f.StringVar(&cfg.State, "state", "", "SQLite file that keeps the state across runs (default: a temporary file removed at exit)")
	f.StringVar(&cfg.KeyPrefix, "key-prefix", emulator.DefaultKeyPrefix, "prefix of minted keys")
	f.StringVar(&cfg.Approve, "approve", string(emulator.ModeAuto), "what GET /auth does: auto (approve at once), deny, or ask (the sign-in and consent pages)")
	f.StringVar(&cfg.PromptPrice, "prompt-price", emulator.DefaultPromptPrice, "built-in models' price of a prompt token (word), USD per million")
	f.StringVar(&cfg.CompletionPrice, "completion-price", emulator.DefaultCompletionPrice, "built-in models' price of a completion token (word), USD per million")
	f.IntVar(&cfg.LoremWords, "lorem-words", emulator.DefaultLoremWords, "length of keygate/lorem's answer in words (tokens)")
	f.DurationVar(&cfg.ChunkDelay, "chunk-delay", 20*time.Millisecond, "wait between two chunks of a streamed answer")
	f.DurationVar(&cfg.UpstreamTimeout, "upstream-timeout", emulator.DefaultUpstreamTimeout, "how long the gateway waits for a built-in model; the timeout fault lasts this long")
	f.StringVar(&cfg.LogLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}

// emulate runs the emulator until ctx is done.
func emulate(ctx context.Context, cfg EmulateConfig, stdout, stderr io.Writer) error {
	m, err := openEmulator(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

// Emulator is an open `keygate emulate`: the emulator and its listener.
type Emulator struct {
	emu      *emulator.Emulator
	listener net.Listener
	http     *http.Server
}

// openEmulator checks cfg, listens, starts the emulator and prints its
// credentials.
func openEmulator(ctx context.Context, cfg EmulateConfig, stdout, stderr io.Writer) (_ *Emulator, err error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	if _, err := emulator.ParseMode("--approve", cfg.Approve); err != nil {
		return nil, fmt.Errorf("--approve %q: want auto, deny or ask", cfg.Approve)
	}
	for flag, v := range map[string]string{"--prompt-price": cfg.PromptPrice, "--completion-price": cfg.CompletionPrice} {
		if _, err := gateway.ParsePrice(v); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	if cfg.PublicURL != "" && !strings.HasPrefix(cfg.PublicURL, "http://") && !strings.HasPrefix(cfg.PublicURL, "https://") {
		return nil, fmt.Errorf("--public-url %q: want an http:// or https:// URL", cfg.PublicURL)
	}
	if cfg.LoremWords < 1 || cfg.ChunkDelay < 0 || cfg.UpstreamTimeout <= 0 {
		return nil, errors.New("--lorem-words, --chunk-delay and --upstream-timeout: want a positive number of words, a delay >= 0 and a timeout > 0")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	m := &Emulator{}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + m.listener.Addr().String()
	}
	m.emu, err = emulator.New(ctx, emulator.Options{
		PublicURL: publicURL, State: cfg.State, KeyPrefix: cfg.KeyPrefix, Approve: emulator.Mode(cfg.Approve),
		PromptPrice: cfg.PromptPrice, CompletionPrice: cfg.CompletionPrice,
		LoremWords: cfg.LoremWords, ChunkDelay: cfg.ChunkDelay, UpstreamTimeout: cfg.UpstreamTimeout,
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	m.http = &http.Server{
		Handler:           m.emu,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      10 * time.Minute, // long enough for streamed answers
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printEmulator(stdout, m.emu, publicURL, cfg)
	return m, nil
}

// printEmulator shows, once, how to point an app at the emulator.
func printEmulator(out io.Writer, emu *emulator.Emulator, publicURL string, cfg EmulateConfig) {
	fmt.Fprintf(out, "keygate emulate: an offline OpenRouter at %s (GET /auth: %s)\n\n", publicURL, cfg.Approve)
	if key := emu.APIKey(); key != "" {
		fmt.Fprintf(out, "  export OPENROUTER_API_KEY=%s\n  export OPENROUTER_MANAGEMENT_KEY=%s\n  export OPENROUTER_BASE_URL=%s/api/v1\n\n", key, emu.ManagementKey(), publicURL)
		fmt.Fprintf(out, "Sign-in (--approve ask): %s, password %s\n", emulator.DevEmail, emu.DevPassword())
	} else {
		fmt.Fprintf(out, "  export OPENROUTER_BASE_URL=%s/api/v1\n\n", publicURL)
		fmt.Fprintf(out, "%s keeps the state of an earlier run: its keys were printed then and are not shown again.\n", cfg.State)
	}
	fmt.Fprintf(out, "Models: %s, %s (faults: model suffix :429 :500 :502 :timeout :cut-stream, or header %s)\n", emulator.EchoModel, emulator.LoremModel, emulator.FaultHeader)
	fmt.Fprintf(out, "Control API: %s/emulator/ (docs/emulator.md)\n\n", publicURL)
}

// Run serves until ctx is done.
func (m *Emulator) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- m.http.Serve(m.listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return m.http.Shutdown(shutdownCtx)
}

// Close closes the listener and the emulator, removing its temporary
// state.
func (m *Emulator) Close() error {
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Close())
	}
	if m.listener != nil {
		if err := m.listener.Close(); !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if m.emu != nil {
		errs = append(errs, m.emu.Close())
	}
	return errors.Join(errs...)
}

// Addr returns the address the emulator listens on.
func (m *Emulator) Addr() string { return m.listener.Addr().String() }
