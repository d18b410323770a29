package conformance

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEmulatorClients runs real clients, unchanged but for their base URL,
// against `keygate emulate` with nobody approving (ts/emulator.mjs): the
// official SDK's OAuth flow and chat.send on keygate/echo, the openai
// package streaming keygate/lorem, a daily limit run out and allowed again
// once the clock is advanced, and every fault.
func TestEmulatorClients(t *testing.T) {
	root := moduleRoot(t)
	tsDir := filepath.Join(root, "conformance", "ts")
	requireNode(t, tsDir)
	bin := buildKeygate(t, root)
	base := startEmulator(t, bin, "--lorem-words", "12", "--chunk-delay", "2ms", "--upstream-timeout", "1s")

	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "emulator.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(),
		"KEYGATE_EMULATOR_URL="+base,
		"KEYGATE_LOREM_WORDS=12",
		"KEYGATE_PROMPT_PRICE=5",
		"KEYGATE_COMPLETION_PRICE=15",
	)
	cmd.WaitDelay = 5 * time.Second
	if out, err := streamOutput(t, cmd); err != nil {
		t.Fatalf("node emulator.mjs: %v\n%s", err, summary(out))
	}
}

// startEmulator runs `keygate emulate` on a free loopback port until the
// test ends and returns its base URL once it has printed the export lines
// and GET /api/v1/models answers, logging how long that took.
func startEmulator(t *testing.T, bin string, extra ...string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	base := "http://" + addr
	start := time.Now()
	cmd := exec.Command(bin, append([]string{"emulate", "--addr", addr}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(lockedBuffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keygate emulate: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopTimeout):
			t.Errorf("keygate emulate did not stop within %v of SIGTERM; killing it", stopTimeout)
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("keygate emulate stderr:\n%s", logs.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	exported := false
	for !exported && sc.Scan() {
		exported = strings.HasPrefix(strings.TrimSpace(sc.Text()), "export OPENROUTER_BASE_URL="+base+"/api/v1")
	}
	if !exported {
		t.Fatalf("keygate emulate printed no export line")
	}
	go io.Copy(io.Discard, stdout)
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(healthTimeout); ; time.Sleep(10 * time.Millisecond) {
		res, err := client.Get(base + "/api/v1/models")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/api/v1/models did not answer 200 within %v: %v", base, healthTimeout, err)
		}
	}
	t.Logf("keygate emulate: start to first answered request in %v", time.Since(start).Round(time.Millisecond))
	return base
}
