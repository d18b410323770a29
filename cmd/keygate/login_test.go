package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/client"
)

// lockedBuffer is a bytes.Buffer that a command writes while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// devServer is `keygate serve --dev` running in this process.
type devServer struct {
	url      string // site root
	password string // of dev@localhost
	mgmtKey  string
}

var (
	devURLRe      = regexp.MustCompile(`curl -s (http://127\.0\.0\.1:\d+)/api/v1/auth/keys/code`)
	devPasswordRe = regexp.MustCompile(`password:\s+(\S+)`)
	devKeyRe      = regexp.MustCompile(`key:\s+(\S+)`)
)

func startDevServer(t *testing.T) *devServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"serve", "--dev", "--addr", "127.0.0.1:0", "--log-level", "error",
		"--database", filepath.Join(t.TempDir(), "keygate.db")})
	cmd.SetOut(out)
	cmd.SetErr(out)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s := out.String()
		u, p, k := devURLRe.FindStringSubmatch(s), devPasswordRe.FindStringSubmatch(s), devKeyRe.FindStringSubmatch(s)
		if u != nil && p != nil && k != nil {
			return &devServer{url: u[1], password: p[1], mgmtKey: k[1]}
		}
	}
	t.Fatalf("serve --dev printed no URL, password and key:\n%s", out.String())
	return nil
}

// runKeygate runs the keygate command line with args. When the command prints a
// sign-in URL, browse is called with it, as a person would open it.
func runKeygate(t *testing.T, browse func(authURL string) error, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out bytes.Buffer
	errw := &urlWatcher{browse: browse}
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(errw)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	errw.wg.Wait()
	if errw.err != nil {
		t.Errorf("browser: %v", errw.err)
	}
	return out.String(), errw.buf.String(), err
}

// urlWatcher collects stderr and hands the first /auth URL to browse.
type urlWatcher struct {
	buf    lockedBuffer
	browse func(string) error
	once   sync.Once
	wg     sync.WaitGroup
	err    error
}

var authURLRe = regexp.MustCompile(`http://\S+/auth\?\S+`)

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if u := authURLRe.FindString(w.buf.String()); u != "" && w.browse != nil {
		w.once.Do(func() {
			w.wg.Add(1)
			go func() { defer w.wg.Done(); w.err = w.browse(u) }()
		})
	}
	return len(p), nil
}

// approveAs returns a browser that signs in as email and approves.
func approveAs(origin, email, password string) func(string) error {
	return func(authURL string) error {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar}
		body, at, err := browserVisit(hc, origin, "GET", authURL, nil)
		if err != nil {
			return err
		}
		if v, action, ok := formWith(body, `action="/login"`); ok {
			v.Set("email", email)
			v.Set("password", password)
			if body, at, err = browserVisit(hc, origin, "POST", at.ResolveReference(action).String(), v); err != nil {
				return err
			}
		}
		v, action, ok := formWith(body, `name="decision"`)
		if !ok {
			return errors.New("no consent form: " + body)
		}
		v.Set("decision", "approve")
		_, _, err = browserVisit(hc, origin, "POST", at.ResolveReference(action).String(), v)
		return err
	}
}

// browserVisit fetches u, posting form when it is not nil with the Origin a
// browser sends, and returns the final page and its URL.
func browserVisit(hc *http.Client, origin, method, u string, form url.Values) (string, *url.URL, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res.Request.URL, err
}

var (
	pageFormRe   = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	pageHiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	pageActionRe = regexp.MustCompile(`action="([^"]*)"`)
)

// formWith returns the hidden fields and action of the first form whose
// markup contains marker.
func formWith(page, marker string) (url.Values, *url.URL, bool) {
	for _, m := range pageFormRe.FindAllStringSubmatch(page, -1) {
		if !strings.Contains(m[0], marker) {
			continue
		}
		a := pageActionRe.FindStringSubmatch(m[1])
		if a == nil {
			return nil, nil, false
		}
		action, err := url.Parse(html.UnescapeString(a[1]))
		if err != nil {
			return nil, nil, false
		}
		v := url.Values{}
		for _, h := range pageHiddenRe.FindAllStringSubmatch(m[2], -1) {
			v.Set(h[1], html.UnescapeString(h[2]))
		}
		return v, action, true
	}
	return nil, nil, false
}

// useConfigDir points os.UserConfigDir at a fresh directory and returns
// where the credentials will be.
func useConfigDir(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("AppData", filepath.Join(home, "config")) // Windows
	return filepath.Join(home, "config", "keygate", "credentials.json")
}

func TestLoginWhoami(t *testing.T) {
	srv := startDevServer(t)
	credPath := useConfigDir(t)
	browser := approveAs(srv.url, devEmail, srv.password)

	stdout, stderr, err := runKeygate(t, browser, "login", "--server", srv.url, "--no-browser", "--limit", "5", "--label", "laptop")
	if err != nil {
		t.Fatalf("login: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	cred := readCredentials(t, credPath)
	if cred.Server != srv.url+"/api/v1" || !strings.HasPrefix(cred.Key, "sk-kg-v1-") || cred.UserID == "" {
		t.Errorf("credentials = server %q key %.9s… user %q", cred.Server, cred.Key, cred.UserID)
	}
	if strings.Contains(stdout+stderr, cred.Key) {
		t.Errorf("login printed the key without --print-key:\n%s\n%s", stdout, stderr)
	}
	for _, want := range []string{"Logged in to " + srv.url + "/api/v1", "Key:     laptop", "Limit:   $5.00, $5.00 left", "Expires: never", "Key saved in " + credPath} {
		if !strings.Contains(stdout, want) {
			t.Errorf("login stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, srv.url+"/auth?") {
		t.Errorf("login stderr lacks the sign-in URL:\n%s", stderr)
	}

	stdout, _, err = runKeygate(t, nil, "whoami")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Server:  " + srv.url + "/api/v1", "User:    " + cred.UserID, "Key:     laptop", "Limit:   $5.00, $5.00 left"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("whoami stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, cred.Key) {
		t.Errorf("whoami printed the key:\n%s", stdout)
	}

	// Once the key is disabled, whoami says so.
	mgmt := client.New(srv.url+"/api/v1", client.WithAPIKey(srv.mgmtKey))
	if _, err := mgmt.Keys.Update(context.Background(), keygate.HashSecret(cred.Key), &apitype.UpdateKeyRequest{Disabled: apitype.Some(true)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKeygate(t, nil, "whoami"); err == nil || !strings.Contains(err.Error(), "no longer accepts the stored key") {
		t.Errorf("whoami with a disabled key: err = %v", err)
	}
}

func TestLoginPrintKey(t *testing.T) {
	srv := startDevServer(t)
	credPath := useConfigDir(t)
	stdout, stderr, err := runKeygate(t, approveAs(srv.url, devEmail, srv.password), "login", "--server", srv.url+"/api/v1", "--no-browser", "--print-key")
	if err != nil {
		t.Fatal(err)
	}
	cred := readCredentials(t, credPath)
	if stdout != cred.Key+"\n" {
		t.Errorf("stdout = %q, want the key alone", stdout)
	}
	if !strings.Contains(stderr, "Limit:   none ($0.00 spent)") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
}

func TestLoginErrors(t *testing.T) {
	useConfigDir(t)
	if _, _, err := runKeygate(t, nil, "whoami"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Errorf("whoami without credentials: err = %v, want not logged in", err)
	}
	for _, limit := range []string{"-1", "five", "Inf"} {
		if _, _, err := runKeygate(t, nil, "login", "--no-browser", "--limit", limit); err == nil || !strings.Contains(err.Error(), "--limit") {
			t.Errorf("login --limit %s: err = %v, want one naming --limit", limit, err)
		}
	}
}

// readCredentials reads the credentials file and checks that only its
// owner can read it.
func readCredentials(t *testing.T, path string) credentials {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("%s has mode %o, want 600", path, m)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("%s has mode %o, want 700", filepath.Dir(path), m)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLoginServerNotRunning: keygate login against a port where nothing
// listens fails at once, saying the server does not answer.
func TestLoginServerNotRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	start := time.Now()
	_, err = runCLI(t, "", "login", "--server", "http://"+addr, "--no-browser")
	if err == nil || !strings.Contains(err.Error(), "does not answer") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("keygate login to a closed port: %v, want it to say %s does not answer", err, addr)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %v, want a few seconds at most", d)
	}
}
