package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6060", true},
		{"127.0.0.1:0", true},
		{"127.1.2.3:6060", true},
		{"[::1]:6060", true},
		{"localhost:6060", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"[::]:6060", false},
		{"192.168.1.10:6060", false},
		{"example.com:6060", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		err := checkLoopback("--pprof", tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--pprof") {
			t.Errorf("checkLoopback(%q) = %q, want the flag named", tt.addr, err)
		}
	}
}

func TestServeConfigValidatePprof(t *testing.T) {
	c := ServeConfig{Addr: "127.0.0.1:8080", KeyPrefix: "sk-kg-", CodeTTL: 600e9, LogLevel: "info", Pprof: "0.0.0.0:6060"}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--pprof") {
		t.Fatalf("Validate() = %v, want an error naming --pprof", err)
	}
	c.Pprof = "127.0.0.1:0"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() with a loopback --pprof = %v", err)
	}
}

func TestServePprof(t *testing.T) {
	addr, err := servePprof(t.Context(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr.String() + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || len(b) == 0 {
		t.Fatalf("GET /debug/pprof/cmdline = %d %q, want 200 with the command line", res.StatusCode, b)
	}
	if res, err := http.Get("http://" + addr.String() + "/api/v1/key"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET /api/v1/key on the profiler's listener = %d, want 404", res.StatusCode)
		}
	}
}
