package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestServeGateway boots `keygate serve --models` against a scripted
// upstream: a chat is charged, a bad models file is refused at start and
// keeps the models in use on reload, a good one replaces them.
func TestServeGateway(t *testing.T) {
	up := upstreamtest.New(func(*upstreamtest.Request) upstreamtest.Reply {
		return upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}}
	})
	defer up.Close()
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	writeModels := func(name string) {
		t.Helper()
		y := fmt.Sprintf("upstreams:\n  tu: {base_url: %q}\nmodels:\n  - {name: %s, upstream: tu, pricing: {prompt: 0.50, completion: 1.50}}\n", up.URL+"/v1", name)
		if err := os.WriteFile(models, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	bad := testServeConfig(t)
	bad.Models = filepath.Join(dir, "missing.yaml")
	if _, err := Open(context.Background(), bad, io.Discard, io.Discard); err == nil {
		t.Fatal("Open with a missing models file succeeded")
	}

	writeModels("t/cheap")
	c := testServeConfig(t)
	c.Models = models
	m := openMain(t, c)
	m.serve(t)
	u, err := m.svc.CreateUser(t.Context(), "a@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := m.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	chat := func(model string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+m.Addr()+"/api/v1/chat/completions", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := chat("t/cheap"); s != 200 {
		t.Fatalf("chat = %d", s)
	}

	os.WriteFile(models, []byte("models: [{name: x, upstream: nope, pricing: free}]\n"), 0o600)
	m.reloadModels()
	if s := chat("t/cheap"); s != 200 {
		t.Errorf("after a bad reload: chat = %d, want the old models kept", s)
	}
	writeModels("t/other")
	m.reloadModels()
	if s, s2 := chat("t/cheap"), chat("t/other"); s != 400 || s2 != 200 {
		t.Errorf("after a good reload: t/cheap %d, t/other %d; want 400, 200", s, s2)
	}
}
