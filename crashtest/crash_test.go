package crashtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/pkce"
	"github.com/keygate/keygate/sqlite"
)

const (
	rounds         = 3   // load, SIGKILL, restart: this many times
	keysPerRound   = 150 // a round is killed once clients hold this many new keys
	loadWorkers    = 8
	userEmail      = "crash@example.com"
	userPassword   = "correct horse battery staple"
	requestTimeout = 10 * time.Second
)

// buildKeygate builds the keygate binary into a temporary folder.
func buildKeygate(t *testing.T) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to build keygate with")
		}
	}
	bin := filepath.Join(t.TempDir(), "keygate")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/keygate/keygate/cmd/keygate")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// keygateCLI runs a keygate subcommand to completion and returns stdout.
func keygateCLI(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("keygate %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// process is a running `keygate serve`.
type process struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startKeygate starts `keygate serve` on db, its log appended to logFile,
// and waits until it answers /healthz. The rate limit is off unless args
// set it again (the last value of a flag wins).
func startKeygate(t *testing.T, bin, db string, logFile *os.File, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	args = append([]string{"serve", "--addr", addr, "--database", db, "--rate-limit", "0", "--log-level", "debug"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: "http://" + addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-p.done:
			t.Fatalf("keygate serve exited at start: %v", err)
		default:
		}
		if res, err := http.Get(p.base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
	}
	t.Fatalf("keygate serve not answering /healthz after 20s")
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("keygate serve after SIGTERM: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("keygate serve still running 40s after SIGTERM")
	}
}

// grant is a code a client asked for, with its verifier, and the key it
// got for it ("" when the exchange got no answer: the process died).
type grant struct {
	code, verifier, key string
}

var client = &http.Client{Timeout: requestTimeout}

// call sends a JSON request and returns the status and body; err is a
// transport error (the process is gone).
func call(base, method, path, bearer string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// load runs workers that each ask for a code with userKey and exchange it,
// until the process dies. It signals enough once clients hold want keys,
// and returns every grant whose code a client received.
func load(t *testing.T, base, userKey string, want int, enough chan<- struct{}) []grant {
	var (
		mu     sync.Mutex
		grants []grant
		held   atomic.Int64
		once   sync.Once
		wg     sync.WaitGroup
	)
	for range loadWorkers {
		wg.Go(func() {
			for {
				v := pkce.NewVerifier()
				status, body, err := call(base, "POST", "/api/v1/auth/keys/code", userKey, map[string]string{
					"callback_url": "http://localhost:3000/cb", "code_challenge": pkce.ChallengeS256(v), "code_challenge_method": "S256",
				})
				if err != nil {
					return
				}
				if status != 200 {
					t.Errorf("code request: %d %s", status, body)
					return
				}
				var c struct{ Data struct{ ID string } }
				json.Unmarshal(body, &c)
				g := grant{code: c.Data.ID, verifier: v}
				status, body, err = call(base, "POST", "/api/v1/auth/keys", "", map[string]string{"code": g.code, "code_verifier": v})
				if err == nil && status != 200 {
					t.Errorf("exchange: %d %s", status, body)
					return
				}
				if err == nil {
					var k struct{ Key string }
					json.Unmarshal(body, &k)
					g.key = k.Key
				}
				mu.Lock()
				grants = append(grants, g)
				mu.Unlock()
				if err != nil {
					return
				}
				if held.Add(1) >= int64(want) {
					once.Do(func() { close(enough) })
				}
			}
		})
	}
	wg.Wait()
	return grants
}

// integrityCheck opens the SQLite file directly with the driver and runs
// PRAGMA integrity_check and foreign_key_check.
func integrityCheck(t *testing.T, db string) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var res []string
	rows, err := conn.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		res = append(res, s)
	}
	rows.Close()
	if len(res) != 1 || res[0] != "ok" {
		t.Fatalf("PRAGMA integrity_check = %q, want ok", res)
	}
	rows, err = conn.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Fatalf("PRAGMA foreign_key_check reports a dangling reference")
	}
}

// TestCrashSafety runs keygate under an exchange load, kills it with
// SIGKILL mid-load, restarts it on the same file, rounds times; then every
// key a client received must work, no code may be exchanged twice, the
// store must still tie each code to the key its client got, the file must
// pass integrity_check, and no secret may appear in the process's log or
// in the database file.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the keygate binary")
	}
	bin := buildKeygate(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "keygate.db")
	logFile, err := os.Create(filepath.Join(dir, "keygate.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	keygateCLI(t, bin, userPassword+"\n", "users", "create", userEmail, "--password-stdin", "--database", db)
	userKey := strings.TrimSpace(keygateCLI(t, bin, "", "keys", "create", "--user", userEmail, "--name", "crash", "--database", db))

	var grants []grant
	for round := range rounds {
		p := startKeygate(t, bin, db, logFile)
		enough := make(chan struct{})
		result := make(chan []grant, 1)
		go func() { result <- load(t, p.base, userKey, keysPerRound, enough) }()
		select {
		case <-enough:
		case <-time.After(2 * time.Minute):
			t.Fatalf("round %d: clients hold fewer than %d keys after 2 minutes", round, keysPerRound)
		}
		p.kill(t)
		got := <-result
		if t.Failed() {
			t.FailNow()
		}
		grants = append(grants, got...)
		integrityCheck(t, db)
	}
	var held, inFlight []grant
	for _, g := range grants {
		if g.key != "" {
			held = append(held, g)
		} else {
			inFlight = append(inFlight, g)
		}
	}
	t.Logf("%d rounds: clients hold %d keys; %d exchanges were cut by SIGKILL", rounds, len(held), len(inFlight))

	p := startKeygate(t, bin, db, logFile)
	// 1. Every key a client received works (before any replay, which
	// would rightly disable it).
	for _, g := range held {
		if status, body, err := call(p.base, "GET", "/api/v1/key", g.key, nil); err != nil || status != 200 {
			t.Fatalf("a key a client received: GET /api/v1/key = %d %s %v, want 200", status, body, err)
		}
	}
	// 2. No code can be exchanged again: a wrong verifier is refused
	// without touching the key, the right one is refused as a replay.
	for _, g := range held {
		status, body, err := call(p.base, "POST", "/api/v1/auth/keys", "", map[string]string{"code": g.code, "code_verifier": pkce.NewVerifier()})
		if err != nil || status != 403 || !strings.Contains(string(body), keygate.MsgInvalidCode) {
			t.Fatalf("re-exchange with a wrong verifier: %d %s %v, want 403", status, body, err)
		}
	}
	for _, g := range held {
		if status, _, err := call(p.base, "GET", "/api/v1/key", g.key, nil); err != nil || status != 200 {
			t.Fatalf("key after a wrong-verifier replay: %d %v, want 200", status, err)
		}
		status, body, err := call(p.base, "POST", "/api/v1/auth/keys", "", map[string]string{"code": g.code, "code_verifier": g.verifier})
		if err != nil || status != 403 || !strings.Contains(string(body), keygate.MsgInvalidCode) {
			t.Fatalf("re-exchange with the right verifier: %d %s %v, want 403", status, body, err)
		}
		if status, _, err := call(p.base, "GET", "/api/v1/key", g.key, nil); err != nil || status != 401 {
			t.Fatalf("key after a replay of its code: %d %v, want 401 (disabled)", status, err)
		}
	}
	// 3. A code whose exchange was cut by the kill is good for at most
	// one exchange now.
	redeemedLate := 0
	for _, g := range inFlight {
		body := map[string]string{"code": g.code, "code_verifier": g.verifier}
		status, resp, err := call(p.base, "POST", "/api/v1/auth/keys", "", body)
		if err != nil || (status != 200 && status != 403) {
			t.Fatalf("exchange of a code cut by the kill: %d %s %v, want 200 or 403", status, resp, err)
		}
		if status == 200 {
			redeemedLate++
			if status, resp, _ := call(p.base, "POST", "/api/v1/auth/keys", "", body); status != 403 {
				t.Fatalf("second exchange of a code cut by the kill: %d %s, want 403", status, resp)
			}
		}
	}
	t.Logf("%d of %d cut exchanges had not committed and were redeemed once now", redeemedLate, len(inFlight))
	p.stop(t)
	integrityCheck(t, db)

	// 4. The store ties each code to the key its client got, and that key
	// alone.
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, g := range held {
		c, err := store.AuthCode(context.Background(), keygate.HashSecret(g.code))
		if err != nil {
			t.Fatalf("stored code: %v", err)
		}
		if c.UsedAt == nil || c.KeyHash != keygate.HashSecret(g.key) {
			t.Fatalf("stored code %s: used %v, key %s; want used, key %s", c.Hash[:12], c.UsedAt, c.KeyHash, keygate.HashSecret(g.key))
		}
	}

	// 5. No secret in the log of any of the processes (debug level).
	logFile.Sync()
	logs, err := os.ReadFile(logFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"user key": userKey, "password": userPassword}
	for i, g := range grants {
		secrets[fmt.Sprintf("code %d", i)] = g.code
		secrets[fmt.Sprintf("verifier %d", i)] = g.verifier
		if g.key != "" {
			secrets[fmt.Sprintf("key %d", i)] = g.key
		}
	}
	for name, s := range secrets {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the %s appears in the log", name)
		}
	}
	// 6. Nor in the database: keys and codes are stored as hashes only,
	// verifiers not at all, the password as an argon2id hash.
	var stored []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(db + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if !bytes.Contains(stored, []byte(userEmail)) {
		t.Fatalf("the user's email is not in the database files: the scan reads the wrong bytes")
	}
	for name, s := range secrets {
		if bytes.Contains(stored, []byte(s)) {
			t.Errorf("the %s is stored in the database file in the clear", name)
		}
	}
	if !bytes.Contains(logs, []byte(keygate.AuditReplayDetected)) {
		t.Errorf("the log has no %s line after %d replays", keygate.AuditReplayDetected, len(held))
	}
}
