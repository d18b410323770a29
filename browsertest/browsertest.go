// Package browsertest drives Debian's headless Chromium for keygate's
// browser tests, through chromedp: a fresh browser per test, pages checked
// with axe-core, and screenshots kept as test artifacts.
//
// It is for tests only. Without Chromium a test is skipped, loudly; under
// CI=true it fails instead, so that CI never passes a browser test it did
// not run.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds each browser test, Chromium's start-up included.
const Timeout = 90 * time.Second

// Widths at which pages are checked and photographed: a desktop window and
// a phone, in CSS pixels.
const (
	DesktopWidth = 1280
	PhoneWidth   = 390
)

// chromiumPath finds Debian's chromium, or skips t (fails it under CI=true).
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: the browser tests need it (apt-get install chromium)")
	}
	t.Skip("SKIPPING BROWSER TEST: chromium is not installed (apt-get install chromium); the pages are NOT tested in a browser")
	return ""
}

// New starts a fresh headless Chromium with an empty profile and returns a
// context bound to one tab of it, at DesktopWidth. The browser closes when
// the test ends or after Timeout. The flags keep Chromium off the network
// but for the pages the test opens.
func New(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(DesktopWidth, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab, SetWidth(DesktopWidth)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab
}

// SetWidth resizes the tab's viewport to width CSS pixels (height 900,
// or 844 at PhoneWidth), with a phone's touch and scale at PhoneWidth.
func SetWidth(width int64) chromedp.Action[chromedp.Void] {
	if width <= PhoneWidth {
		return chromedp.EmulateViewport(width, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	return chromedp.EmulateViewport(width, 900)
}

// Violation is one rule axe-core found broken on a page.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeScript reads axe-core from the conformance kit's node_modules, where
// `npm ci` in conformance/ts puts it.
func axeScript() (string, error) {
	axeOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		path := filepath.Join(filepath.Dir(file), "..", "conformance", "ts", "node_modules", "axe-core", "axe.min.js")
		b, err := os.ReadFile(path)
		if err != nil {
			axeErr = fmt.Errorf("axe-core is not installed (npm ci in conformance/ts): %w", err)
			return
		}
		axeSource = string(b)
	})
	return axeSource, axeErr
}

// Axe runs axe-core on the page the tab shows and fails t for every
// violation of impact "serious" or "critical", naming the rule and the
// elements. Lesser violations are logged. Without axe-core the check is
// skipped with a log line, or fails t under CI=true.
func Axe(t testing.TB, ctx context.Context) {
	t.Helper()
	src, err := axeScript()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Logf("SKIPPING ACCESSIBILITY CHECK: %v", err)
		return
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	run := `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	var violations []Violation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		t.Fatalf("axe-core's answer: %v", err)
	}
	url, _ := chromedp.Run(ctx, chromedp.Location())
	for _, v := range violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, n.HTML)
		}
		msg := fmt.Sprintf("axe %s (%s) on %s: %s: %s", v.ID, v.Impact, url, v.Help, strings.Join(where, " | "))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
}

// ArtifactDir is where screenshots go: $KEYGATE_TEST_ARTIFACTS when set,
// else the directory "artifacts" under the system's temporary directory.
func ArtifactDir() string {
	if dir := os.Getenv("KEYGATE_TEST_ARTIFACTS"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "keygate-test-artifacts")
}

// Screenshot saves a full-page PNG of the tab as
// ArtifactDir()/<test>/<name>.png and logs its path. (Quality 100 is what
// makes Chromium encode PNG rather than JPEG.)
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(ArtifactDir(), strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
}

// CheckPage runs Axe and saves a screenshot at the desktop and the phone
// width, then restores the desktop width: the check every page of keygate's
// gets in the browser tests.
func CheckPage(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	for _, w := range []struct {
		width  int64
		suffix string
	}{{DesktopWidth, "desktop"}, {PhoneWidth, "phone"}} {
		if err := chromedp.Do(ctx, SetWidth(w.width)); err != nil {
			t.Fatalf("viewport %d: %v", w.width, err)
		}
		Axe(t, ctx)
		Screenshot(t, ctx, name+"-"+w.suffix)
	}
	if err := chromedp.Do(ctx, SetWidth(DesktopWidth)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
}
