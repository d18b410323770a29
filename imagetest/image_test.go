package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/pkce"
)

// The image's promises, as the Containerfile states them.
const (
	imageUser = "65532:65532"
	imageUID  = 65532
	dataDir   = "/data"
)

// runner runs the image's commands: in a container, or under chroot where
// containers cannot run.
type runner interface {
	// run runs the image's entrypoint with args to completion, stdin
	// given, and returns its standard output.
	run(t *testing.T, stdin string, args ...string) string
	// serve starts `keygate serve` and returns its base URL; stop ends it
	// with SIGTERM and returns its exit error.
	serve(t *testing.T) string
	stop(t *testing.T) error
}

func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("podman is required under CI (.ci/run installs it): the container image is not tested")
		}
		t.Skip("SKIPPING THE CONTAINER IMAGE TEST: podman is not installed (apt-get install podman)")
	}
	tag := fmt.Sprintf("localhost/keygate-imagetest:%d", time.Now().UnixNano())
	build := exec.Command("bash", "../scripts/build-image.sh", tag)
	build.Env = append(os.Environ(), "CONTAINER_ENGINE=podman", "VERSION=imagetest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", tag).Run() })

	cfg := inspect(t, podman, tag)
	root := exportRoot(t, podman, tag)
	checkFiles(t, root)

	var r runner
	if reason := containersCannotRun(podman, tag); reason == "" {
		r = newContainerRunner(t, podman, tag)
	} else {
		// Loud on purpose: this is the one part of the test that cannot
		// run here.
		msg := "CONTAINER RUN SKIPPED: containers cannot run here (" + reason + "); " +
			"the image was built and inspected, and its root file system is run under chroot as uid 65532 instead"
		t.Log(msg)
		fmt.Fprintln(os.Stderr, "imagetest: "+msg)
		if os.Geteuid() != 0 {
			t.Skip("SKIPPING THE IMAGE RUN: containers cannot run here and chroot needs root")
		}
		r = &chrootRunner{root: root, cfg: cfg}
	}
	if v := strings.TrimSpace(r.run(t, "", "version")); !strings.Contains(v, "imagetest") {
		t.Errorf("keygate version in the image = %q, want the VERSION it was built with", v)
	}
	const email, password = "owner@example.com", "correct horse battery staple"
	r.run(t, password+"\n", "users", "create", email, "--password-stdin")

	base := r.serve(t)
	key := signIn(t, base, email, password)
	verify(t, base, key)
	if err := r.stop(t); err != nil {
		t.Errorf("keygate serve after SIGTERM: %v, want a clean exit", err)
	}
	// The state is in the volume: a new server on it knows the key.
	base = r.serve(t)
	verify(t, base, key)
	if err := r.stop(t); err != nil {
		t.Errorf("keygate serve after SIGTERM, second start: %v", err)
	}
}

// imageConfig is the part of `podman image inspect` the test checks.
type imageConfig struct {
	User         string
	Env          []string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	Volumes      map[string]struct{}
	ExposedPorts map[string]struct{}
}

// inspect checks the image's configuration and returns it.
func inspect(t *testing.T, podman, tag string) imageConfig {
	t.Helper()
	out, err := exec.Command(podman, "image", "inspect", tag).Output()
	if err != nil {
		t.Fatalf("podman image inspect: %v", err)
	}
	var images []struct{ Config imageConfig }
	if err := json.Unmarshal(out, &images); err != nil || len(images) != 1 {
		t.Fatalf("podman image inspect: %v, %d images", err, len(images))
	}
	c := images[0].Config
	if c.User != imageUser {
		t.Errorf("User = %q, want %q (not root)", c.User, imageUser)
	}
	if strings.Join(c.Entrypoint, " ") != "/keygate" || strings.Join(c.Cmd, " ") != "serve" {
		t.Errorf("Entrypoint, Cmd = %q, %q, want [/keygate], [serve]", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.Volumes[dataDir]; !ok {
		t.Errorf("Volumes = %v, want %s", c.Volumes, dataDir)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", c.ExposedPorts)
	}
	for _, want := range []string{"KEYGATE_ADDR=0.0.0.0:8080", "KEYGATE_DATABASE=/data/keygate.db"} {
		if !contains(c.Env, want) {
			t.Errorf("Env = %q, want %s", c.Env, want)
		}
	}
	return c
}

// exportRoot writes the image's file system into a directory, owners and
// modes kept, and returns it.
func exportRoot(t *testing.T, podman, tag string) string {
	t.Helper()
	// The temporary directory itself must be reachable by the image's user
	// when it is used as a root under chroot.
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	id, err := exec.Command(podman, "create", tag).Output()
	if err != nil {
		t.Fatalf("podman create: %v", err)
	}
	ctr := strings.TrimSpace(string(id))
	// --volumes: the image's VOLUME gives each container an anonymous one.
	defer exec.Command(podman, "rm", "--force", "--volumes", ctr).Run()
	tarball, err := exec.Command(podman, "export", ctr).Output()
	if err != nil {
		t.Fatalf("podman export: %v", err)
	}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the exported image: %v", err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			err = os.MkdirAll(filepath.Dir(p), 0o755)
			if err == nil {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, b, 0o600)
				}
			}
		default:
			t.Errorf("image entry %s of type %c: want only files and directories", h.Name, h.Typeflag)
			continue
		}
		if err == nil {
			err = os.Chmod(p, h.FileInfo().Mode().Perm())
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(p, h.Uid, h.Gid)
		}
		if err != nil {
			t.Fatalf("extracting %s: %v", h.Name, err)
		}
	}
	return root
}

// checkFiles: the image holds the static binary, the CA bundle and the
// state directory owned by its user, and nothing runnable besides (no
// shell: every command is keygate's).
func checkFiles(t *testing.T, root string) {
	t.Helper()
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, "/"+rel)
		}
		return nil
	})
	for _, f := range files {
		switch {
		case f == "/keygate", f == "/etc/ssl/certs/ca-certificates.crt":
		case strings.HasPrefix(f, "/etc/"), strings.HasPrefix(f, "/run/"):
			// podman create adds /etc/hosts, /etc/resolv.conf and the like
			// to the container, not to the image: empty files.
			if fi, err := os.Stat(filepath.Join(root, f)); err != nil || fi.Size() != 0 {
				t.Errorf("unexpected file %s in the image", f)
			}
		default:
			t.Errorf("unexpected file %s in the image (want /keygate and the CA bundle only)", f)
		}
	}
	bin, err := elf.Open(filepath.Join(root, "keygate"))
	if err != nil {
		t.Fatalf("/keygate: %v", err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("/keygate asks for a dynamic loader: want a static binary (CGO_ENABLED=0)")
		}
	}
	if libs, _ := bin.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("/keygate needs %v: want a static binary", libs)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); err != nil || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt: %v, want a PEM bundle", err)
	}
	fi, err := os.Stat(filepath.Join(root, dataDir))
	if err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v, want a directory", dataDir, err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != imageUID || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: owner %d, mode %v, want %d and 0700", dataDir, st.Uid, fi.Mode().Perm(), imageUID)
	}
}

// containersCannotRun runs `keygate version` in a container and returns
// why containers cannot run here, or "" when they can. Only the container
// runtime's own failures count (podman's exit statuses 125 and 126); the
// image's command failing fails the test later.
func containersCannotRun(podman, tag string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("keygate-imagetest-probe-%d", time.Now().UnixNano())
	// A run that fails before it starts leaves its container and the
	// image's anonymous volume behind.
	defer exec.Command(podman, "rm", "--force", "--volumes", name).Run()
	out, err := exec.CommandContext(ctx, podman, "run", "--rm", "--name", name, tag, "version").CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && (exit.ExitCode() == 125 || exit.ExitCode() == 126) {
		return "podman run: " + strings.TrimSpace(string(out))
	}
	return ""
}

// containerRunner runs the image with podman: a named volume on /data,
// the server's port published on loopback.
type containerRunner struct {
	podman, tag, volume string
	name                string // the running server's container
}

func newContainerRunner(t *testing.T, podman, tag string) *containerRunner {
	t.Helper()
	c := &containerRunner{podman: podman, tag: tag, volume: fmt.Sprintf("keygate-imagetest-%d", time.Now().UnixNano())}
	if out, err := exec.Command(podman, "volume", "create", c.volume).CombinedOutput(); err != nil {
		t.Fatalf("podman volume create: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "volume", "rm", "--force", c.volume).Run() })
	return c
}

func (c *containerRunner) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(c.podman, append([]string{"run", "--rm", "-i", "-v", c.volume + ":" + dataDir, c.tag}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	return output(t, cmd)
}

func (c *containerRunner) serve(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	c.name = fmt.Sprintf("keygate-imagetest-%d", time.Now().UnixNano())
	base := "http://127.0.0.1:" + port
	out, err := exec.Command(c.podman, "run", "--detach", "--name", c.name,
		"-p", "127.0.0.1:"+port+":8080", "-v", c.volume+":"+dataDir,
		"-e", "KEYGATE_PUBLIC_URL="+base, c.tag).CombinedOutput()
	if err != nil {
		t.Fatalf("podman run --detach: %v\n%s", err, out)
	}
	name := c.name
	t.Cleanup(func() { exec.Command(c.podman, "rm", "--force", "--volumes", name).Run() })
	waitHealthy(t, base, func() string {
		logs, _ := exec.Command(c.podman, "logs", name).CombinedOutput()
		return string(logs)
	})
	return base
}

func (c *containerRunner) stop(t *testing.T) error {
	t.Helper()
	if out, err := exec.Command(c.podman, "stop", "--time", "30", c.name).CombinedOutput(); err != nil {
		return fmt.Errorf("podman stop: %v: %s", err, out)
	}
	out, err := exec.Command(c.podman, "inspect", "--format", "{{.State.ExitCode}}", c.name).Output()
	if err != nil {
		return fmt.Errorf("podman inspect: %v", err)
	}
	exec.Command(c.podman, "rm", "--force", "--volumes", c.name).Run()
	if code := strings.TrimSpace(string(out)); code != "0" {
		return fmt.Errorf("exit status %s", code)
	}
	return nil
}

// chrootRunner runs the image's entrypoint on its exported root file
// system under chroot, as the image's user, in its working directory,
// with its environment: what a container runtime does, less the
// namespaces. The server listens on loopback instead of the image's
// 0.0.0.0.
type chrootRunner struct {
	root string
	cfg  imageConfig
	srv  *exec.Cmd
	done chan error
}

func (c *chrootRunner) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(c.cfg.Entrypoint[0], append(c.cfg.Entrypoint[1:], args...)...)
	cmd.Env = append(append([]string{}, c.cfg.Env...), env...)
	cmd.Dir = c.cfg.WorkingDir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     c.root,
		Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID},
	}
	return cmd
}

func (c *chrootRunner) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := c.command(nil, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return output(t, cmd)
}

func (c *chrootRunner) serve(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	c.srv = c.command([]string{"KEYGATE_ADDR=127.0.0.1:" + port, "KEYGATE_PUBLIC_URL=" + base}, c.cfg.Cmd...)
	var logs bytes.Buffer
	c.srv.Stdout, c.srv.Stderr = &logs, &logs
	if err := c.srv.Start(); err != nil {
		t.Fatalf("starting the image's %v under chroot: %v", c.cfg.Cmd, err)
	}
	c.done = make(chan error, 1)
	srv, done := c.srv, c.done
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() { srv.Process.Kill() })
	waitHealthy(t, base, func() string { return logs.String() })
	return base
}

func (c *chrootRunner) stop(t *testing.T) error {
	t.Helper()
	c.srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		return err
	case <-time.After(45 * time.Second):
		c.srv.Process.Kill()
		return errors.New("still running 45 s after SIGTERM")
	}
}

// signIn signs email in through the browser flow (the sign-in form, the
// consent page, approve), exchanges the code with its PKCE verifier
// (RFC 7636 §4.5) and returns the new key.
func signIn(t *testing.T, base, email, password string) string {
	t.Helper()
	c := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// The sign-in form's token is a double submit: any value in both the
	// cookie and the field.
	formToken := strings.Repeat("t", 43)
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{
		"email": {email}, "password": {password}, "form_token": {formToken},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "keygate_login", Value: formToken})
	res := do(t, c, req, http.StatusSeeOther)
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "keygate_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("POST /login set no keygate_session cookie")
	}

	verifier := pkce.NewVerifier()
	auth := "/auth?" + url.Values{
		"callback_url":          {"https://app.example.com/callback"},
		"code_challenge":        {pkce.ChallengeS256(verifier)},
		"code_challenge_method": {"S256"},
	}.Encode()
	req, _ = http.NewRequest("GET", base+auth, nil)
	req.AddCookie(session)
	page := body(t, do(t, c, req, http.StatusOK))
	m := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the consent page has no form_token:\n%s", page)
	}
	req, _ = http.NewRequest("POST", base+auth, strings.NewReader(url.Values{
		"decision": {"approve"}, "form_token": {m[1]},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(session)
	res = do(t, c, req, http.StatusFound)
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Host != "app.example.com" || loc.Query().Get("code") == "" {
		t.Fatalf("approve redirected to %q, want the callback with a code", res.Header.Get("Location"))
	}

	exchange, _ := json.Marshal(map[string]string{
		"code": loc.Query().Get("code"), "code_verifier": verifier, "code_challenge_method": "S256",
	})
	req, _ = http.NewRequest("POST", base+"/api/v1/auth/keys", bytes.NewReader(exchange))
	req.Header.Set("Content-Type", "application/json")
	var got struct{ Key string }
	if err := json.Unmarshal([]byte(body(t, do(t, c, req, http.StatusOK))), &got); err != nil || got.Key == "" {
		t.Fatalf("exchange answer: %v, key %q", err, got.Key)
	}
	return got.Key
}

// verify checks that key is accepted by GET /api/v1/key.
func verify(t *testing.T, base, key string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/key", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	var got struct {
		Data struct{ Label string } `json:"data"`
	}
	b := body(t, do(t, http.DefaultClient, req, http.StatusOK))
	if err := json.Unmarshal([]byte(b), &got); err != nil || got.Data.Label == "" {
		t.Errorf("GET /api/v1/key = %s, want the key's data with its label", b)
	}
}

func do(t *testing.T, c *http.Client, req *http.Request, want int) *http.Response {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	if res.StatusCode != want {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("%s %s = %d, want %d: %s", req.Method, req.URL.Path, res.StatusCode, want, b)
	}
	return res
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitHealthy waits up to a minute for GET /healthz to answer 200; logs
// gives the server's output for the failure message.
func waitHealthy(t *testing.T, base string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer 200 within a minute; the server said:\n%s", base, logs())
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func output(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
