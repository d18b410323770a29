package main

import (
	"strings"
	"testing"
)

// TestServeConfigValidateSQLite: the SQLite read tuning's flags refuse
// what SQLite would not take, naming the flag; 0 is the default.
func TestServeConfigValidateSQLite(t *testing.T) {
	tests := []struct {
		mmap, cache int64
		bad         string // the flag named, "" for valid
	}{
		{0, 0, ""},
		{-1, 1, ""},
		{2048, 65536, ""},
		{-2, 0, "--sqlite-mmap-mib"},
		{2049, 0, "--sqlite-mmap-mib"},
		{0, -1, "--sqlite-cache-mib"},
		{0, 65537, "--sqlite-cache-mib"},
	}
	for _, tt := range tests {
		c := ServeConfig{Addr: "127.0.0.1:8080", KeyPrefix: "sk-kg-", CodeTTL: 600e9, LogLevel: "info",
			SQLiteMmapMiB: tt.mmap, SQLiteCacheMiB: tt.cache}
		err := c.Validate()
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("Validate(mmap %d, cache %d) = %v, want nil", tt.mmap, tt.cache, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("Validate(mmap %d, cache %d) = %v, want an error naming %s", tt.mmap, tt.cache, err, tt.bad)
		}
		// 0 leaves each to the store's default: no option.
		want := 0
		for _, v := range []int64{tt.mmap, tt.cache} {
			if v != 0 {
				want++
			}
		}
		if got := len(c.sqliteOptions()); tt.bad == "" && got != want {
			t.Errorf("sqliteOptions(mmap %d, cache %d) = %d options, want %d", tt.mmap, tt.cache, got, want)
		}
	}
}
