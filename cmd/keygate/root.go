package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…";
// without it, `keygate version` reports the module version of the build.
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "keygate",
		Short:         "OpenRouter-compatible OAuth PKCE key-provisioning server",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(debug.ReadBuildInfo()),
		// Every command reads its flags' KEYGATE_* variables before it
		// runs (cobra runs the nearest PersistentPreRunE of the chain).
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) },
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// Usage is silenced for errors of a run; a wrong flag still gets the
	// command's usage line, so that the user sees what it takes.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nUsage: %s\nRun '%s --help' for more.", err, cmd.UseLine(), cmd.CommandPath())
	})
	root.AddCommand(newServeCmd(), newEmulateCmd(), newUsersCmd(), newKeysCmd(), newWorkspacesCmd(), newServiceTokensCmd())
	root.AddCommand(newGuardrailsCmd())
	root.AddCommand(newLoginCmd(), newWhoamiCmd(), newVersionCmd())
	root.AddCommand(newCreditsCmd(), newAppsCmd())
	root.AddCommand(newFederationCmd(), newJWKSCmd())
	return root
}

// bindEnv gives every flag of cmd that was not set on the command line the
// value of its environment variable: KEYGATE_ and the flag name in upper
// snake case (--public-url ← KEYGATE_PUBLIC_URL).
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "KEYGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

// addDatabaseFlag adds --database to cmd.
func addDatabaseFlag(cmd *cobra.Command, dsn *string) {
	cmd.Flags().StringVar(dsn, "database", defaultDatabase, "SQLite file (path, sqlite:///abs/path.db) or postgres:// URL")
}
