package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildKeygate builds cmd/keygate of the module the working directory is in
// into dir and returns the binary's path.
func buildKeygate(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("run bench from inside the keygate module (go env GOMOD is empty)")
	}
	bin := filepath.Join(dir, "keygate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/keygate")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/keygate: %w", err)
	}
	return bin, nil
}

// process is a server under test, run as a process of its own.
type process struct {
	name  string
	cmd   *exec.Cmd
	addr  string // host:port of the API
	pprof string // host:port of net/http/pprof, when started with it
	log   string // path of the file that holds its output
	done  chan struct{}
}

// URL returns the base URL of the server.
func (p *process) URL() string { return "http://" + p.addr }

// startProcess starts bin with args, its stdout and stderr going to
// logPath, and waits until it has logged the address of its API (a slog
// line with msg=<ready> and addr=host:port) and, when wantPprof, of its
// profiler, then until GET /healthz answers.
func startProcess(ctx context.Context, name, bin, logPath, ready string, wantPprof bool, env []string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "GOTRACEBACK=all"), env...)
	// Should the harness die without stopping it, the server goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	addrs := make(chan [2]string, 4)
	go func() {
		defer logf.Close()
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			msg := logField(line, "msg")
			if msg == ready || msg == "pprof listening" {
				select {
				case addrs <- [2]string{msg, logField(line, "addr")}:
				default:
				}
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	deadline := time.After(30 * time.Second)
	for p.addr == "" || (wantPprof && p.pprof == "") {
		select {
		case a := <-addrs:
			if a[0] == ready {
				p.addr = a[1]
			} else {
				p.pprof = a[1]
			}
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start; its output is in %s", name, logPath)
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("%s did not start within 30s; its output is in %s", name, logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		}
	}
	if err := p.waitHealthy(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// logField returns the value of key in a slog text line, unquoted.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			u, _ := strconv.Unquote(s)
			return u
		}
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

func (p *process) waitHealthy(ctx context.Context) error {
	c := &http.Client{Timeout: time.Second}
	for range 100 {
		res, err := c.Get(p.URL() + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s exited; its output is in %s", p.name, p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: /healthz did not answer 200 within 10s", p.name)
}

// stop asks the process to shut down and kills it if it has not within
// 15 seconds.
func (p *process) stop() {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// procStat is what /proc says about a process.
type procStat struct {
	CPU   float64 // user+system CPU seconds since it started
	RSS   int64   // resident set, bytes
	HWM   int64   // peak resident set, bytes
	Alive bool
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// usage reads /proc/<pid>/stat and /proc/<pid>/status.
func (p *process) usage() (procStat, error) {
	pid := p.cmd.Process.Pid
	cpu, err := procCPU(pid)
	if err != nil {
		return procStat{}, err
	}
	u := procStat{CPU: cpu, Alive: true}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStat{}, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if name == "VmRSS" {
			u.RSS = kb << 10
		} else {
			u.HWM = kb << 10
		}
	}
	return u, nil
}

// heapInUse asks the process's profiler to collect garbage and returns the
// live heap in bytes (HeapAlloc after the collection).
func (p *process) heapInUse(ctx context.Context) (int64, error) {
	if p.pprof == "" {
		return 0, errors.New("started without a profiler")
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.pprof+"/debug/pprof/heap?debug=1&gc=1", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no HeapAlloc in the heap profile", p.name)
}

// cpuProfile fetches a CPU profile of d from the process's profiler into
// path.
func (p *process) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	if p.pprof == "" {
		return errors.New("started without a profiler")
	}
	u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprof, max(1, int(d.Seconds())))
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: profile: %s", p.name, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeCount returns the write transactions the process's store has
// committed (GET /debug/writes on its profiler's listener), or -1 for a
// process without a profiler or a store that does not count them.
func (p *process) writeCount(ctx context.Context) (int64, error) {
	if p.pprof == "" {
		return -1, nil
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.pprof+"/debug/writes", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.name, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return -1, nil
	}
	var v struct {
		N *int64 `json:"write_transactions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || v.N == nil {
		return 0, fmt.Errorf("%s: /debug/writes: not {\"write_transactions\":N}", p.name)
	}
	return *v.N, nil
}

// procCPU returns the user+system CPU seconds of process pid
// (/proc/<pid>/stat).
func procCPU(pid int) (float64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14 and 15.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(utime+stime) / clockTicks, nil
}
