package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// newServiceTokensCmd manages the operator's service tokens, which
// authorize POST /api/v1/usage and nothing else (docs/integrations.md).
func newServiceTokensCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "service-tokens", Short: "Manage the service tokens that report usage (POST /api/v1/usage)"}
	var dsn, name string
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a service token and print it once, on the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			secret, t, err := svc.CreateServiceToken(cmd.Context(), name)
			if err != nil {
				return cliError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created service token %s (%s); it is shown once:\n", t.ID, t.Name)
			fmt.Fprintln(out, secret)
			return nil
		},
	}
	addDatabaseFlag(create, &dsn)
	create.Flags().StringVar(&name, "name", "", "what the token is for, 1 to 100 characters (required)")
	create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List service tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, closeFn, err := openService(cmd, dsn, true)
			if err != nil {
				return err
			}
			defer closeFn()
			ts, err := svc.ServiceTokens(cmd.Context())
			if err != nil {
				return cliError(err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tCREATED\tREVOKED")
			for _, t := range ts {
				revoked := "-"
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.CreatedAt.Format(time.RFC3339), revoked)
			}
			return w.Flush()
		},
	}
	addDatabaseFlag(list, &dsn)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a service token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := svc.RevokeServiceToken(cmd.Context(), args[0]); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked service token %s\n", args[0])
			return nil
		},
	}
	addDatabaseFlag(revoke, &dsn)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
