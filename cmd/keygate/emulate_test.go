package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestServeHasNoControlAPI: keygate serve answers 404 under /emulator/
// whatever its flags, and GET /auth still asks for a sign-in.
func TestServeHasNoControlAPI(t *testing.T) {
	up := upstreamtest.New(nil)
	defer up.Close()
	models := filepath.Join(t.TempDir(), "models.yaml")
	writeFile(t, models, "upstreams:\n  tu: {base_url: "+up.URL+"}\nmodels:\n  - {name: keygate/echo, upstream: tu, pricing: {prompt: 1, completion: 1}}\n")
	configs := []struct {
		name string
		edit func(*ServeConfig)
	}{
		{"plain", func(*ServeConfig) {}},
		{"dev", func(c *ServeConfig) { c.Dev = true }},
		{"gateway", func(c *ServeConfig) { c.Models = models }},
		{"everything", func(c *ServeConfig) {
			c.Dev, c.Models, c.KeyPrefix, c.RateLimit = true, models, "sk-or-", 0
		}},
	}
	requests := []struct{ method, path, body string }{
		{"GET", "/emulator/", ""},
		{"POST", "/emulator/reset", ""},
		{"GET", "/emulator/clock", ""},
		{"POST", "/emulator/clock", `{"advance":"24h"}`},
		{"POST", "/emulator/approve", `{"mode":"auto"}`},
		{"POST", "/emulator/keys", `{}`},
		{"GET", "/emulator/codes", ""},
		{"GET", "/emulator", ""},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			cfg := testServeConfig(t)
			c.edit(&cfg)
			m := openMain(t, cfg)
			m.serve(t)
			for _, r := range requests {
				res := do(t, r.method, "http://"+m.Addr()+r.path, r.body)
				if res.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s = %d, want 404", r.method, r.path, res.StatusCode)
				}
			}
			res := do(t, "GET", "http://"+m.Addr()+"/auth?callback_url=http://localhost:3000/cb", "")
			if res.StatusCode != http.StatusOK || res.Header.Get("Location") != "" {
				t.Errorf("GET /auth = %d Location %q, want the sign-in page", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
}

// TestEmulateCommand starts keygate emulate as the command does: it prints
// the export lines once, the key printed works, and bad flags are refused
// by name.
func TestEmulateCommand(t *testing.T) {
	var out bytes.Buffer
	m, err := openEmulator(context.Background(), testEmulateConfig(""), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	go m.Run(t.Context())
	base := "http://" + m.Addr()
	key := regexp.MustCompile(`export OPENROUTER_API_KEY=(sk-or-v1-[0-9a-f]{64})\n`).FindStringSubmatch(out.String())
	if key == nil || !strings.Contains(out.String(), "export OPENROUTER_BASE_URL="+base+"/api/v1\n") {
		t.Fatalf("output lacks the export lines:\n%s", out.String())
	}
	res := do(t, "GET", base+"/api/v1/key", "", "Authorization", "Bearer "+key[1])
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/key with the printed key = %d", res.StatusCode)
	}
	// The API key calls models; the management key manages keys and
	// cannot call models, as on OpenRouter.
	mgmt := regexp.MustCompile(`export OPENROUTER_MANAGEMENT_KEY=(sk-or-v1-[0-9a-f]{64})\n`).FindStringSubmatch(out.String())
	if mgmt == nil || mgmt[1] == key[1] {
		t.Fatalf("output lacks a management key of its own:\n%s", out.String())
	}
	chat := `{"model":"keygate/echo","messages":[{"role":"user","content":"hi"}]}`
	for _, c := range []struct {
		method, path, body, who, key string
		want                         int
	}{
		{"POST", "/api/v1/chat/completions", chat, "API key", key[1], http.StatusOK},
		{"GET", "/api/v1/keys", "", "API key", key[1], http.StatusForbidden},
		{"GET", "/api/v1/keys", "", "management key", mgmt[1], http.StatusOK},
		{"POST", "/api/v1/chat/completions", chat, "management key", mgmt[1], http.StatusForbidden},
	} {
		if res := do(t, c.method, base+c.path, c.body, "Authorization", "Bearer "+c.key, "Content-Type", "application/json"); res.StatusCode != c.want {
			b, _ := io.ReadAll(res.Body)
			t.Errorf("%s %s with the %s = %d %s, want %d", c.method, c.path, c.who, res.StatusCode, b, c.want)
		}
	}

	bad := []struct {
		name string
		edit func(*EmulateConfig)
		want string
	}{
		{"approve", func(c *EmulateConfig) { c.Approve = "yes" }, "--approve"},
		{"price", func(c *EmulateConfig) { c.PromptPrice = "-1" }, "--prompt-price"},
		{"lorem", func(c *EmulateConfig) { c.LoremWords = 0 }, "--lorem-words"},
		{"log-level", func(c *EmulateConfig) { c.LogLevel = "loud" }, "--log-level"},
		{"addr", func(c *EmulateConfig) { c.Addr = "nowhere" }, "nowhere"},
		{"public-url", func(c *EmulateConfig) { c.PublicURL = "localhost:8080" }, "--public-url"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			cfg := testEmulateConfig("")
			b.edit(&cfg)
			m, err := openEmulator(context.Background(), cfg, io.Discard, io.Discard)
			if err == nil {
				m.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), b.want) {
				t.Errorf("error %q does not name %s", err, b.want)
			}
		})
	}
}

// TestEmulateState: with --state, a key made in one run works in the
// next, which prints no key; POST /emulator/reset puts back the file as
// the run started with it.
func TestEmulateState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "emu.db")
	run := func() (base string, out string, stop func()) {
		var b bytes.Buffer
		m, err := openEmulator(context.Background(), testEmulateConfig(state), &b, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		return "http://" + m.Addr(), b.String(), func() { cancel(); <-done; m.Close() }
	}
	base, out, stop := run()
	if !strings.Contains(out, "OPENROUTER_API_KEY=sk-or-") {
		t.Fatalf("first run prints no key:\n%s", out)
	}
	var k struct{ Key string }
	decodeBody(t, do(t, "POST", base+"/emulator/keys", `{"name":"kept"}`), http.StatusCreated, &k)
	stop()

	base, out, stop = run()
	defer stop()
	if strings.Contains(out, "OPENROUTER_API_KEY") {
		t.Errorf("second run prints a key:\n%s", out)
	}
	if s := do(t, "GET", base+"/api/v1/key", "", "Authorization", "Bearer "+k.Key).StatusCode; s != 200 {
		t.Errorf("key of the first run: GET /api/v1/key = %d, want 200", s)
	}
	var k2 struct{ Key string }
	decodeBody(t, do(t, "POST", base+"/emulator/keys", `{"name":"dropped"}`), http.StatusCreated, &k2)
	do(t, "POST", base+"/emulator/reset", "")
	for key, want := range map[string]int{k.Key: 200, k2.Key: 401} {
		if s := do(t, "GET", base+"/api/v1/key", "", "Authorization", "Bearer "+key).StatusCode; s != want {
			t.Errorf("after reset: GET /api/v1/key = %d, want %d", s, want)
		}
	}
}

func testEmulateConfig(state string) EmulateConfig {
	return EmulateConfig{
		Addr: "127.0.0.1:0", State: state, KeyPrefix: "sk-or-", Approve: "auto",
		PromptPrice: "5", CompletionPrice: "15", LoremWords: 8, UpstreamTimeout: time.Second, LogLevel: "error",
	}
}

// do sends a request with header name-value pairs and returns the
// response with its body read into memory.
func do(t *testing.T, method, url, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}

func decodeBody(t *testing.T, res *http.Response, status int, v any) {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(errors.Join(err, errors.New(string(b))))
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
