package crashtest

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// floodLogins is how many wrong-password sign-ins are sent at once.
const floodLogins = 200

// maxPeakRSS is the most resident memory the server may ever have held
// through the flood: one argon2id hash holds 19 MiB, so an unbounded flood
// of 200 needs about 3.8 GiB.
const maxPeakRSS = 300 << 20

// formToken is the sign-in form's double-submit token: any value works
// when the cookie and the field carry the same one.
var formToken = strings.Repeat("t", 43)

// postLogin sends one sign-in form from 127.0.0.1 and returns the status
// and Retry-After; err is a transport error.
func postLogin(base, email, password string) (int, string, error) {
	form := url.Values{"email": {email}, "password": {password}, "form_token": {formToken}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "keygate_login", Value: formToken})
	noRedirect := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Do(req)
	if err != nil {
		return 0, "", err
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After"), nil
}

// peakRSS reads VmHWM, the process's peak resident set, from
// /proc/<pid>/status, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc status for the server: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM line %q: %v", sc.Text(), err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestLoginFloodMemory: 200 wrong-password sign-ins sent at once from one
// address keep the peak memory of a server on 2 CPUs under 300 MiB, every one gets an
// answer (401, or 429/503 with Retry-After), and the right password still
// signs in afterwards, after at most the waits the server asks for. With
// the default per-address limit the flood is for the user's own email;
// with the per-address limit off it is for 200 different emails, so that
// only the process-wide bound on password hashes stands in the way.
func TestLoginFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the keygate binary")
	}
	bin := buildKeygate(t)
	// The bound is 2 hashes per CPU: pinned to 2 CPUs, the server's
	// budget is the same on every machine.
	t.Setenv("GOMAXPROCS", "2")
	tests := []struct {
		name  string
		args  []string
		email func(i int) string
	}{
		{"default-limits", []string{"--rate-limit", "20"}, func(int) string { return userEmail }},
		{"no-per-address-limit", nil, func(i int) string { return fmt.Sprintf("guess%d@example.com", i) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "keygate.db")
			logFile, err := os.Create(filepath.Join(dir, "keygate.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer logFile.Close()
			keygateCLI(t, bin, userPassword+"\n", "users", "create", userEmail, "--password-stdin", "--database", db)
			p := startKeygate(t, bin, db, logFile, append(tt.args, "--log-level", "info")...)
			before := peakRSS(t, p.cmd.Process.Pid)

			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			start := make(chan struct{})
			for i := range floodLogins {
				wg.Go(func() {
					<-start
					status, retry, err := postLogin(p.base, tt.email(i), "wrong password")
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("sign-in %d: %v", i, err)
						return
					}
					statuses[status]++
					switch status {
					case http.StatusUnauthorized:
					case http.StatusTooManyRequests, http.StatusServiceUnavailable:
						if n, err := strconv.Atoi(retry); err != nil || n < 1 {
							t.Errorf("sign-in %d: %d with Retry-After %q, want whole seconds >= 1", i, status, retry)
						}
					default:
						t.Errorf("sign-in %d: status %d, want 401, 429 or 503", i, status)
					}
				})
			}
			close(start)
			wg.Wait()
			peak := peakRSS(t, p.cmd.Process.Pid)
			t.Logf("statuses %v; peak RSS %d MiB (%d MiB before the flood)", statuses, peak>>20, before>>20)
			if peak > maxPeakRSS {
				t.Errorf("peak RSS = %d MiB, want under %d MiB", peak>>20, maxPeakRSS>>20)
			}

			deadline := time.Now().Add(time.Minute)
			for {
				status, retry, err := postLogin(p.base, userEmail, userPassword)
				if err != nil {
					t.Fatalf("right password after the flood: %v", err)
				}
				if status == http.StatusSeeOther {
					break
				}
				wait, _ := strconv.Atoi(retry)
				if (status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable) || wait < 1 || time.Now().Add(time.Duration(wait)*time.Second).After(deadline) {
					t.Fatalf("right password after the flood: status %d, Retry-After %q; want 303 within a minute", status, retry)
				}
				time.Sleep(time.Duration(wait) * time.Second)
			}
			p.stop(t)
		})
	}
}
