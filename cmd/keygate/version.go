package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionString describes this build: the version set with -ldflags
// "-X main.version=…", else the module version from the build info
// ("(devel)" for a build from a checkout), followed by the VCS revision
// and its time when the build recorded them (go build in a git checkout
// does; go run and go test do not), "+dirty" for a modified tree, and the
// Go version.
func versionString(info *debug.BuildInfo, ok bool) string {
	v := version
	if !ok {
		return v
	}
	if v == "" || v == "dev" {
		v = info.Main.Version
		if v == "" {
			v = "(devel)"
		}
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	parts := []string{"keygate " + v}
	if rev != "" {
		parts = append(parts, "revision "+rev+dirty)
	}
	if at != "" {
		parts = append(parts, "committed "+at)
	}
	parts = append(parts, info.GoVersion)
	return strings.Join(parts, ", ")
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionString(debug.ReadBuildInfo()))
			return nil
		},
	}
}
