package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case ceilingArg:
			os.Exit(ceilingMain(os.Args[2:]))
		case upstreamArg:
			os.Exit(upstreamMain(os.Args[2:]))
		case proxyArg:
			os.Exit(proxyMain(os.Args[2:]))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the flags of a run.
type options struct {
	quick     bool
	duration  time.Duration // of one round
	rounds    int           // pairs of rounds: ceiling, keygate, ceiling, keygate, …
	conns     []int         // verify's connection counts
	flowConns []int         // flow's connection counts
	keys      int           // distinct keys of verify, and the small store of scale
	scaleKeys int           // the big store of scale
	maxHits   int           // requests per round at most
	postgres  string
	jsonPath  string
	profile   string // directory for CPU profiles of keygate
	profConns int    // connections of verify's profiled round
	keep      bool
	keygate   string // a keygate binary to measure instead of building this tree's
	gogc      int    // GOGC of the keygate process; 0 leaves the default
}

// scenario is one named measurement. Adding one (the gateway, once it
// exists) is a function and a line in scenarios.
type scenario struct {
	name string
	help string
	run  func(ctx context.Context, b *bench) error
}

var scenarios = []scenario{
	{"verify", "GET /api/v1/key and GET /api/v1/auth/verify with distinct keys at several connection counts", runVerify},
	{"flow", "code then exchange (one sign-in) on SQLite and PostgreSQL", runFlow},
	{"scale", "verify with a small and a big store, and memory per cached key", runScale},
	{"flood", "verify with unknown keys: each new, and 1,000 over and over", runFlood},
	{"gateway", "keygate's added latency in front of an upstream", runGateway},
	{"ceiling", "the ceiling server alone", runCeilingOnly},
}

// allScenarios is what `all` runs: ceiling is measured inside each of them.
var allScenarios = []string{"verify", "flow", "scale", "flood", "gateway"}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: go run ./bench <scenario> [flags]")
	fmt.Fprintln(w, "\nscenarios:")
	for _, s := range scenarios {
		fmt.Fprintf(w, "  %-8s %s\n", s.name, s.help)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "all", strings.Join(allScenarios, ", "))
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func parseArgs(args []string) (names []string, opt options, err error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&opt.quick, "quick", false, "short rounds and a smaller big store (100,000 keys): the whole of `all` in a few minutes")
	fs.DurationVar(&opt.duration, "duration", 0, "length of one round (default 10s, 3s with --quick)")
	fs.IntVar(&opt.rounds, "rounds", 2, "rounds of each server per measurement, alternated: ceiling, keygate, ceiling, keygate")
	connsFlag := fs.String("conns", "16,64,256", "connection counts of verify")
	flowConnsFlag := fs.String("flow-conns", "16,64", "connection counts of flow")
	fs.IntVar(&opt.keys, "keys", 10_000, "distinct keys of verify, and the small store of scale")
	fs.IntVar(&opt.scaleKeys, "scale-keys", 0, "keys in the big store of scale (default 1,000,000, 100,000 with --quick)")
	fs.IntVar(&opt.maxHits, "max-requests", 2_000_000, "requests per round at most")
	fs.StringVar(&opt.postgres, "postgres", os.Getenv("KEYGATE_TEST_POSTGRES"), "PostgreSQL URL for flow (a fresh schema is made and dropped); default $KEYGATE_TEST_POSTGRES")
	fs.StringVar(&opt.jsonPath, "json", "", "write the results here (default keygate-bench-<time>.json in the system temporary directory)")
	fs.StringVar(&opt.profile, "profile", "", "write CPU profiles of keygate (verify, flow) into this directory")
	fs.IntVar(&opt.profConns, "profile-conns", 64, "connections of verify's profiled round")
	fs.BoolVar(&opt.keep, "keep", false, "keep the temporary directory (databases, binaries, server logs)")
	fs.IntVar(&opt.gogc, "gogc", 0, "run keygate with this GOGC (0: Go's default, 100)")
	fs.StringVar(&opt.keygate, "keygate-bin", "", "measure this keygate binary (an older build, say) instead of building the tree")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		var sb strings.Builder
		usage(&sb, fs)
		return nil, opt, errors.New("no scenario given\n" + sb.String())
	}
	name := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		var sb strings.Builder
		usage(&sb, fs)
		return nil, opt, fmt.Errorf("%w\n%s", err, sb.String())
	}
	if fs.NArg() > 0 {
		return nil, opt, fmt.Errorf("unexpected arguments %q: flags come after the scenario", fs.Args())
	}
	switch {
	case name == "all":
		names = allScenarios
	case slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name }):
		names = []string{name}
	default:
		var sb strings.Builder
		usage(&sb, fs)
		return nil, opt, fmt.Errorf("unknown scenario %q\n%s", name, sb.String())
	}
	if opt.conns, err = parseCounts("--conns", *connsFlag); err != nil {
		return nil, opt, err
	}
	if opt.flowConns, err = parseCounts("--flow-conns", *flowConnsFlag); err != nil {
		return nil, opt, err
	}
	if opt.duration == 0 {
		opt.duration = 10 * time.Second
		if opt.quick {
			opt.duration = 3 * time.Second
		}
	}
	if opt.scaleKeys == 0 {
		opt.scaleKeys = 1_000_000
		if opt.quick {
			opt.scaleKeys = 100_000
		}
	}
	switch {
	case opt.duration < 100*time.Millisecond || opt.duration > 5*time.Minute:
		return nil, opt, fmt.Errorf("--duration %s: want 100ms to 5m", opt.duration)
	case opt.rounds < 1 || opt.rounds > 10:
		return nil, opt, fmt.Errorf("--rounds %d: want 1 to 10", opt.rounds)
	case opt.keys < 1 || opt.keys > 10_000_000, opt.scaleKeys < 1 || opt.scaleKeys > 10_000_000:
		return nil, opt, errors.New("--keys and --scale-keys: want 1 to 10,000,000")
	case opt.maxHits < 1:
		return nil, opt, errors.New("--max-requests: want at least 1")
	}
	return names, opt, nil
}

// parseCounts parses a flag's comma-separated connection counts.
func parseCounts(flag, v string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("%s %q: want a comma-separated list of numbers from 1 to 4096", flag, v)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// bench is the state of one run: its options, its temporary directory,
// the keygate binary and the report being filled.
type bench struct {
	opt     options
	dir     string
	keygate string // path of the built binary
	pprof   bool   // whether it has `serve --pprof`
	self    string // path of this program, to start the ceiling server
	report  *report
	log     io.Writer
	hotP50  float64 // scale: p50 of the big store's hot keys
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	names, opt, err := parseArgs(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "keygate-bench-")
	if err != nil {
		return err
	}
	if opt.keep {
		fmt.Fprintln(os.Stderr, "bench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{opt: opt, dir: dir, report: newReport(opt), log: os.Stderr}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	start := time.Now()
	if opt.keygate != "" {
		b.keygate = opt.keygate
	} else {
		b.logf("building keygate")
		if b.keygate, err = buildKeygate(ctx, dir); err != nil {
			return err
		}
	}
	help, _ := exec.CommandContext(ctx, b.keygate, "serve", "--help").CombinedOutput()
	b.pprof = strings.Contains(string(help), "--pprof")
	if !b.pprof {
		b.report.note("this keygate has no --pprof: no heap figures, no profile")
	}
	for _, name := range names {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
		b.logf("scenario %s", name)
		if err := scenarios[i].run(ctx, b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	b.report.Elapsed = time.Since(start).Round(time.Second).String()
	b.report.print(stdout)
	path := opt.jsonPath
	if path == "" {
		path = filepath.Join(os.TempDir(), "keygate-bench-"+start.UTC().Format("20060102T150405Z")+".json")
	}
	if err := b.report.writeJSON(path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresults: %s (%s)\n", path, b.report.Elapsed)
	return nil
}

// logf reports progress on stderr, so that stdout holds only the results.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}
