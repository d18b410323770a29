package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestServiceTokensCLI: create prints the token once, on its last line;
// list shows ids and names, never secrets; revoke marks the token revoked
// and a second revoke fails.
func TestServiceTokensCLI(t *testing.T) {
	db := newCLIDatabase(t)
	out := mustCLI(t, "", "service-tokens", "create", "--name", "edge proxy", "--database", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if !strings.HasPrefix(secret, keygate.ServiceTokenPrefix) || len(secret) != len(keygate.ServiceTokenPrefix)+64 {
		t.Fatalf("last line %q is not a service token", secret)
	}
	id := strings.Fields(lines[0])[3]
	if !strings.HasPrefix(id, "st-") {
		t.Fatalf("first line %q names no token id", lines[0])
	}
	list := mustCLI(t, "", "service-tokens", "list", "--database", db)
	if !strings.Contains(list, id) || !strings.Contains(list, "edge proxy") || strings.Contains(list, secret) {
		t.Errorf("list = %q: want the id and name, never the secret", list)
	}
	mustCLI(t, "", "service-tokens", "revoke", id, "--database", db)
	if _, err := runCLI(t, "", "service-tokens", "revoke", id, "--database", db); err == nil {
		t.Error("revoking twice succeeded")
	}
	for _, line := range strings.Split(mustCLI(t, "", "service-tokens", "list", "--database", db), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == id {
			if _, err := time.Parse(time.RFC3339, f[len(f)-1]); err != nil {
				t.Errorf("list after revoke: %q, want a revocation time last", line)
			}
		}
	}
	if _, err := runCLI(t, "", "service-tokens", "create", "--database", db); err == nil {
		t.Error("create without --name succeeded")
	}
}

// TestServeMetrics: /metrics is on the main listener by default, and only
// on --metrics-addr when it is given.
func TestServeMetrics(t *testing.T) {
	get := func(url string) int {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	m := openMain(t, testServeConfig(t))
	m.serve(t)
	if s := get("http://" + m.Addr() + "/metrics"); s != 200 {
		t.Errorf("GET /metrics on the main listener = %d, want 200", s)
	}

	c := testServeConfig(t)
	c.MetricsAddr = "127.0.0.1:0"
	m2 := openMain(t, c)
	m2.serve(t)
	addr, err := serveMetrics(t.Context(), c.MetricsAddr, m2.metrics, m2.log)
	if err != nil {
		t.Fatal(err)
	}
	if s := get("http://" + m2.Addr() + "/metrics"); s != 404 {
		t.Errorf("GET /metrics on the main listener with --metrics-addr = %d, want 404", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for get("http://"+addr.String()+"/metrics") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("GET /metrics on --metrics-addr never answered 200")
		}
		time.Sleep(20 * time.Millisecond)
	}
	bad := testServeConfig(t)
	bad.MetricsAddr = "nowhere"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("Validate(--metrics-addr nowhere) = %v, want an error naming the flag", err)
	}
}
