package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

func newWorkspacesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workspaces", Short: "Manage workspaces, which group a user's keys"}
	cmd.AddCommand(newWorkspacesListCmd(), newWorkspacesCreateCmd(), newWorkspacesBudgetCmd())
	return cmd
}

func newWorkspacesListCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "list --user EMAIL",
		Short: "List a user's workspaces, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, true)
			if err != nil {
				return err
			}
			defer closeFn()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSLUG\tNAME\tDEFAULT\tCREATED")
			for offset := 0; ; offset += keygate.MaxWorkspacePage {
				page, total, err := svc.ListWorkspaces(cmd.Context(), u.ID, offset, keygate.MaxWorkspacePage)
				if err != nil {
					return cliError(err)
				}
				for _, w := range page {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", w.ID, w.Slug, w.Name, w.IsDefault, w.CreatedAt.UTC().Format(time.RFC3339))
				}
				if len(page) == 0 || offset+len(page) >= total {
					break
				}
			}
			return tw.Flush()
		},
	}
	addDatabaseFlag(cmd, &dsn)
	cmd.Flags().StringVar(&email, "user", "", "email of the workspaces' owner (required)")
	cmd.MarkFlagRequired("user")
	return cmd
}

func newWorkspacesCreateCmd() *cobra.Command {
	var dsn, email, slug, description string
	cmd := &cobra.Command{
		Use:   "create --user EMAIL NAME",
		Short: "Create a workspace and print its id",
		Long: `Create a workspace named NAME (1 to 100 characters) for a user. Its slug is
--slug, or derived from NAME: lower-case letters and digits joined by hyphens.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			p := keygate.NewWorkspaceParams{UserID: u.ID, Name: args[0]}
			if slug != "" {
				p.Slug = &slug
			}
			if cmd.Flags().Changed("description") {
				p.Description = &description
			}
			w, err := svc.CreateWorkspace(cmd.Context(), p)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created workspace %s (id %s)\n", w.Slug, w.ID)
			return nil
		},
	}
	f := cmd.Flags()
	addDatabaseFlag(cmd, &dsn)
	f.StringVar(&email, "user", "", "email of the workspace's owner (required)")
	f.StringVar(&slug, "slug", "", "the workspace's slug (default: derived from NAME)")
	f.StringVar(&description, "description", "", "a description, at most 500 characters")
	cmd.MarkFlagRequired("user")
	return cmd
}
