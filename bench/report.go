package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// stats are the pooled figures of one server under one load.
type stats struct {
	Rounds          int       `json:"rounds"`
	Requests        int       `json:"requests"`
	Errors          int       `json:"errors"`
	ErrorSamples    []string  `json:"error_samples,omitempty"`
	RPS             float64   `json:"rps"`
	RoundRPS        []float64 `json:"round_rps"`
	P50             float64   `json:"p50_ms"`
	P90             float64   `json:"p90_ms"`
	P99             float64   `json:"p99_ms"`
	CPUSeconds      float64   `json:"cpu_seconds"`
	CPUPerRequestUS float64   `json:"cpu_us_per_request"`
	PeakRSSMB       float64   `json:"peak_rss_mb"`
	// FirstByteP50 and FirstByteP99 are the time to the answer's first
	// byte, measured on streams only.
	FirstByteP50 float64 `json:"first_byte_p50_ms,omitempty"`
	FirstByteP99 float64 `json:"first_byte_p99_ms,omitempty"`
	// WritesPerRequest is the store's write transactions per request, for
	// servers that count them (keygate with --pprof).
	WritesPerRequest float64 `json:"db_writes_per_request,omitempty"`
	// DBCPUPerRequestUS is the database server's backends' CPU per
	// request, where it is measured (PostgreSQL in the gateway scenario).
	DBCPUPerRequestUS float64 `json:"db_cpu_us_per_request,omitempty"`
}

// row is one line of the table: a server under one load, or a scenario
// that could not run.
type row struct {
	Scenario string `json:"scenario"`
	Case     string `json:"case"`
	Server   string `json:"server"`
	Conns    int    `json:"conns"`
	stats
	// RatioRPS is RPS over the ceiling's RPS in the same rounds; 0 on the
	// ceiling's own rows.
	RatioRPS float64 `json:"ratio_to_ceiling,omitempty"`
	Skipped  string  `json:"skipped,omitempty"`
}

// report is everything a run found.
type report struct {
	Started time.Time          `json:"started"`
	Elapsed string             `json:"elapsed"`
	Machine machine            `json:"machine"`
	Options map[string]any     `json:"options"`
	Rows    []row              `json:"rows"`
	Figures map[string]float64 `json:"figures"` // derived figures: memory per key, p50 ratios
	Notes   []string           `json:"notes,omitempty"`
}

type machine struct {
	CPUs      int     `json:"cpus"`
	Model     string  `json:"cpu_model"`
	MemoryGiB float64 `json:"memory_gib"`
	Go        string  `json:"go"`
	OS        string  `json:"os"`
}

func newReport(opt options) *report {
	return &report{
		Started: time.Now().UTC(),
		Machine: readMachine(),
		Options: map[string]any{
			"quick": opt.quick, "duration": opt.duration.String(), "rounds": opt.rounds,
			"conns": opt.conns, "flow_conns": opt.flowConns, "keys": opt.keys,
			"scale_keys": opt.scaleKeys, "max_requests": opt.maxHits,
			"postgres": opt.postgres != "", "gogc": opt.gogc,
		},
		Figures: map[string]float64{},
	}
}

func readMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemoryGiB = kb / (1 << 20)
			}
		}
	}
	return m
}

// addPair adds the rows of keygate and of the ceiling measured in the same
// rounds.
func (r *report) addPair(scenario, cas string, conns int, kg, ceil stats) {
	r.Rows = append(r.Rows, row{Scenario: scenario, Case: cas, Server: "ceiling", Conns: conns, stats: ceil})
	k := row{Scenario: scenario, Case: cas, Server: "keygate", Conns: conns, stats: kg}
	if ceil.RPS > 0 {
		k.RatioRPS = kg.RPS / ceil.RPS
	}
	r.Rows = append(r.Rows, k)
}

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nmachine: %d CPUs, %s, %.1f GiB, %s %s\n\n", r.Machine.CPUs, r.Machine.Model, r.Machine.MemoryGiB, r.Machine.Go, r.Machine.OS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tcase\tserver\tconns\treq/s\tp50 ms\tp90 ms\tp99 ms\t1st byte p50\terrors\tCPU s\tCPU µs/req\tDB CPU µs/req\tDB writes/req\tpeak RSS MB\tvs ceiling\t")
	opt := func(format string, v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	for _, x := range r.Rows {
		if x.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t\n", x.Scenario, x.Case, x.Server, x.Skipped)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%d\t%.1f\t%.1f\t%s\t%s\t%.0f\t%s\t\n",
			x.Scenario, x.Case, x.Server, x.Conns, x.RPS, x.P50, x.P90, x.P99, opt("%.2f", x.FirstByteP50), x.Errors,
			x.CPUSeconds, x.CPUPerRequestUS, opt("%.0f", x.DBCPUPerRequestUS), opt("%.3f", x.WritesPerRequest), x.PeakRSSMB, opt("%.2f", x.RatioRPS))
	}
	tw.Flush()
	if len(r.Figures) > 0 {
		fmt.Fprintln(w)
		keys := make([]string, 0, len(r.Figures))
		for k := range r.Figures {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%-44s %.2f\n", k, r.Figures[k])
		}
	}
	for _, x := range r.Rows {
		for _, e := range x.ErrorSamples {
			fmt.Fprintf(w, "error: %s %s %s conns=%d: %s\n", x.Scenario, x.Case, x.Server, x.Conns, e)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
