package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// TestServeConfigValidateKeyCacheTTL: --key-cache-ttl refuses a negative
// duration and one past 24h, naming the flag; 0 is the store's default.
func TestServeConfigValidateKeyCacheTTL(t *testing.T) {
	for _, tt := range []struct {
		ttl time.Duration
		ok  bool
	}{{0, true}, {time.Second, true}, {24 * time.Hour, true}, {-time.Second, false}, {24*time.Hour + time.Second, false}} {
		c := ServeConfig{Addr: "127.0.0.1:8080", KeyPrefix: "sk-kg-", CodeTTL: 600e9, LogLevel: "info", KeyCacheTTL: tt.ttl}
		err := c.Validate()
		switch {
		case tt.ok && err != nil:
			t.Errorf("Validate(--key-cache-ttl %s) = %v, want nil", tt.ttl, err)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "--key-cache-ttl")):
			t.Errorf("Validate(--key-cache-ttl %s) = %v, want an error naming --key-cache-ttl", tt.ttl, err)
		}
	}
}

// TestTuneForStore: on SQLite a key and its usage are trusted for
// sqliteKeyCacheTTL unless the operator says otherwise.
func TestTuneForStore(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct{ flag, want time.Duration }{{0, sqliteKeyCacheTTL}, {time.Minute, time.Minute}} {
		kc := keygate.DefaultConfig()
		tuneForStore(db, &kc, tt.flag)
		if kc.KeyCacheTTL != tt.want || kc.UsageCacheTTL != tt.want {
			t.Errorf("tuneForStore(SQLite, %s): key TTL %s, usage TTL %s, want %s", tt.flag, kc.KeyCacheTTL, kc.UsageCacheTTL, tt.want)
		}
	}
}
