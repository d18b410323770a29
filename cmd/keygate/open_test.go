package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openFiles returns how many of this process's file descriptors refer to
// path or to its SQLite companions (-wal, -shm).
func openFiles(t *testing.T, path string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, path) {
			n++
		}
	}
	return n
}

// TestOpenReleasesOnError: an Open that fails after opening the store
// (here, its address is taken) leaves no file of the database open, and
// Close releases the listener and the store of an Open that succeeded.
func TestOpenReleasesOnError(t *testing.T) {
	first := testServeConfig(t)
	m, err := Open(context.Background(), first, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addr := m.Addr()

	second := testServeConfig(t)
	second.Addr = addr
	if _, err := Open(context.Background(), second, io.Discard, io.Discard); err == nil {
		t.Fatalf("Open on the taken address %s succeeded", addr)
	}
	if n := openFiles(t, second.Database); n != 0 {
		t.Errorf("after the failed Open, %d files of its database are still open", n)
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := openFiles(t, first.Database); n != 0 {
		t.Errorf("after Close, %d files of the database are still open", n)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the address is still taken after Close: %v", err)
	}
	ln.Close()
}

// TestOpenRefusesBadConfig: Open reports every problem of its
// configuration at once and opens nothing.
func TestOpenRefusesBadConfig(t *testing.T) {
	cfg := testServeConfig(t)
	cfg.LogLevel, cfg.TrustedProxies = "loud", []string{"not-an-ip"}
	_, err := Open(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--log-level") || !strings.Contains(err.Error(), "--trusted-proxies") {
		t.Fatalf("Open = %v, want errors naming --log-level and --trusted-proxies", err)
	}
	if _, err := os.Stat(cfg.Database); !os.IsNotExist(err) {
		t.Errorf("Open with a bad configuration created the database: %v", err)
	}
}
