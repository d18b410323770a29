package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/postgres/pgtest"
)

const (
	healthTimeout = 15 * time.Second
	stopTimeout   = 10 * time.Second
	nodeTimeout   = 5 * time.Minute
)

// TestOpenRouterSDK runs the official TypeScript SDK against keygate: always
// on SQLite, and on PostgreSQL as well when KEYGATE_TEST_POSTGRES is set.
func TestOpenRouterSDK(t *testing.T) {
	root := moduleRoot(t)
	tsDir := filepath.Join(root, "conformance", "ts")
	requireNode(t, tsDir)

	bin := buildKeygate(t, root)
	groups := os.Getenv("KEYGATE_CONFORMANCE_GROUPS")
	if groups == "" {
		groups = "core,management,gateway,apps"
	}

	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "kg.db")
		runSuite(t, bin, tsDir, db, "conformance@example.com", groups)
	})

	pg := os.Getenv("KEYGATE_TEST_POSTGRES")
	if pg == "" {
		t.Log("KEYGATE_TEST_POSTGRES is not set: the postgres run is left out")
		return
	}
	t.Run("postgres", func(t *testing.T) {
		// A schema of its own, dropped afterwards: the database is shared
		// with other runs, whose binaries may carry other migrations.
		u, _ := pgtest.NewSchema(t)
		runSuite(t, bin, tsDir, u, "conformance@example.com", groups)
	})
}

// runSuite starts keygate on database, provisions a user with an ordinary and
// a management key through the CLI, and runs run.mjs against the server.
func runSuite(t *testing.T, bin, tsDir, database, email, groups string) {
	base := startServer(t, bin, database, "--models", startUpstream(t))

	keygate(t, bin, "users", "create", email, "--database", database)
	userKey := newKey(t, bin, "keys", "create", "--user", email, "--database", database)
	mgmtKey := newKey(t, bin, "keys", "create", "--user", email, "--management", "--database", database)
	// For the apps checks: a service token that reports usage, and a
	// second user whose credit balance is 50 micro-dollars.
	tokenOut := strings.TrimSpace(keygate(t, bin, "service-tokens", "create", "--name", "conformance", "--database", database))
	serviceToken := tokenOut[strings.LastIndex(tokenOut, "\n")+1:]
	creditsEmail := "credits-" + email
	keygate(t, bin, "users", "create", creditsEmail, "--database", database)
	creditsUserKey := newKey(t, bin, "keys", "create", "--user", creditsEmail, "--database", database)
	creditsMgmtKey := newKey(t, bin, "keys", "create", "--user", creditsEmail, "--management", "--database", database)
	keygate(t, bin, "credits", "grant", "--user", creditsEmail, "--amount", "0.00005", "--note", "conformance", "--database", database)

	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(),
		"KEYGATE_API_URL="+base+"/api/v1",
		"KEYGATE_USER_KEY="+userKey,
		"KEYGATE_MGMT_KEY="+mgmtKey,
		"KEYGATE_CONFORMANCE_GROUPS="+groups,
		"KEYGATE_SERVICE_TOKEN="+serviceToken,
		"KEYGATE_CREDITS_USER_KEY="+creditsUserKey,
		"KEYGATE_CREDITS_MGMT_KEY="+creditsMgmtKey,
	)
	// A grandchild holding the output pipe must not keep Wait from returning.
	cmd.WaitDelay = 5 * time.Second
	out, err := streamOutput(t, cmd)
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (stopped after %v)", err, nodeTimeout)
	}
	if err != nil {
		t.Fatalf("node run.mjs (groups %s): %v; the full output is above\n%s", groups, err, summary(out))
	}
}

// summary picks the failed checks and the closing count from run.mjs output.
func summary(out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "not ok - ") || strings.Contains(line, " passed, ") {
			b.WriteString(line)
		}
	}
	if b.Len() == 0 {
		return out
	}
	return b.String()
}

// requireNode stops the test when Node.js or the installed SDK is missing:
// a skip on a developer's machine, a failure in CI, where the suite must run.
func requireNode(t *testing.T, tsDir string) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" is not on PATH")
		}
	}
	installed := filepath.Join(tsDir, "node_modules", "@openrouter", "sdk", "package.json")
	if _, err := os.Stat(installed); err != nil {
		missing = append(missing, "the SDK is not installed (run `npm ci` in conformance/ts)")
	}
	if len(missing) > 0 {
		msg := "SKIPPING official SDK conformance: " + strings.Join(missing, "; ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	// A stale install would test another SDK than the pinned one.
	want := pinnedVersion(t, filepath.Join(tsDir, "package.json"))
	got := packageVersion(t, installed)
	if got != want {
		t.Fatalf("conformance/ts has @openrouter/sdk %s installed, package.json pins %s: run `npm ci` in conformance/ts", got, want)
	}
}

func pinnedVersion(t *testing.T, path string) string {
	t.Helper()
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, path, &pkg)
	v := pkg.Dependencies["@openrouter/sdk"]
	if v == "" {
		t.Fatalf("%s does not depend on @openrouter/sdk", path)
	}
	return v
}

func packageVersion(t *testing.T, path string) string {
	t.Helper()
	var pkg struct {
		Version string `json:"version"`
	}
	readJSON(t, path, &pkg)
	return pkg.Version
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// moduleRoot walks up from the test's directory to the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func buildKeygate(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "keygate")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/keygate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/keygate: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `keygate serve` on a free loopback port until the test
// ends and returns its base URL once /healthz answers 200.
func startServer(t *testing.T, bin, database string, extra ...string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	// The suite sends bursts of requests from one address: no rate limit.
	args := append([]string{"serve", "--addr", addr, "--database", database, "--rate-limit", "0"}, extra...)

	logs := new(lockedBuffer)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keygate serve: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	// Cleanups run last-registered first: stop the server, then show its log.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keygate %s output:\n%s", strings.Join(args, " "), logs.String())
		}
	})
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			t.Errorf("keygate serve did not stop within %v of SIGTERM; killing it", stopTimeout)
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	base := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(healthTimeout)
	for {
		select {
		case <-exited:
			t.Fatalf("keygate serve exited before it was healthy: %v", waitErr)
		default:
		}
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/healthz did not answer 200 within %v: %v", base, healthTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// keygate runs a CLI command that must succeed and returns its stdout.
func keygate(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("keygate %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// newKey runs a `keys create` command, which prints the new key alone.
func newKey(t *testing.T, bin string, args ...string) string {
	t.Helper()
	key := strings.TrimSpace(keygate(t, bin, args...))
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		// The output is not shown: if it holds a key, it must not reach a log.
		t.Fatalf("keygate %s: stdout is not a single key (%d bytes, %d lines)",
			strings.Join(args, " "), len(key), strings.Count(key, "\n")+1)
	}
	return key
}

// streamOutput runs cmd with stdout and stderr merged, logging each line as it
// arrives, and returns everything it printed.
func streamOutput(t *testing.T, cmd *exec.Cmd) (string, error) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		return "", err
	}
	var (
		all  strings.Builder
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for sc.Scan() {
			t.Log(sc.Text())
			all.WriteString(sc.Text())
			all.WriteByte('\n')
		}
		// Keep draining so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	return all.String(), err
}

// lockedBuffer collects a subprocess's output, written from exec's copying
// goroutines and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
