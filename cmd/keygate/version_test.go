package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/keygate/keygate/sqlite"
)

func TestVersionString(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no-build-info", nil, false, "dev"},
		{"checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "9117209e7ac42f7612c2f1d0de5fbc65c6f7744d", "vcs.time", "2026-12-07T03:22:18Z", "vcs.modified", "false")},
			true, "keygate (devel), revision 9117209e7ac42f7612c2f1d0de5fbc65c6f7744d, committed 2026-12-07T03:22:18Z, go1.26.0"},
		{"modified-checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "abc123", "vcs.modified", "true")},
			true, "keygate (devel), revision abc123+dirty, go1.26.0"},
		{"go-install", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}},
			true, "keygate v1.2.3, go1.26.0"},
		{"go-run", &debug.BuildInfo{GoVersion: "go1.26.0"}, true, "keygate (devel), go1.26.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionString(tt.info, tt.ok); got != tt.want {
				t.Errorf("versionString = %q, want %q", got, tt.want)
			}
		})
	}
	out := mustCLI(t, "", "version")
	if !strings.HasPrefix(out, "keygate ") || !strings.Contains(out, "go1.") {
		t.Errorf("keygate version = %q, want keygate <version>, …, <Go version>", out)
	}
}

// TestUnknownFlagShowsUsage: a mistyped flag names itself and prints the
// command's usage line.
func TestUnknownFlagShowsUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"keys", "list", "--usr", "a@example.com"}, "Usage: keygate keys list --user EMAIL"},
		{[]string{"users", "create", "a@example.com", "--pasword-stdin"}, "Usage: keygate users create EMAIL"},
		{[]string{"serve", "--adr", ":0"}, "Usage: keygate serve"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			_, err := runCLI(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), "unknown flag") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("keygate %s: error %v, want unknown flag and %q", strings.Join(tt.args, " "), err, tt.want)
			}
		})
	}
}

// TestCacheNote: the help of the commands that change a key says when a
// running server sees the change, as it is now.
func TestCacheNote(t *testing.T) {
	for _, cmd := range []string{"disable", "enable", "delete"} {
		out := mustCLI(t, "", "keys", cmd, "--help")
		if strings.Contains(out, "30 s") || !strings.Contains(out, "within "+sqlite.PollInterval.String()) {
			t.Errorf("keygate keys %s --help:\n%s\nwant the SQLite poll interval, not the cache TTL", cmd, out)
		}
	}
}
