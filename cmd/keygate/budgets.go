package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

// newWorkspacesBudgetCmd is `keygate workspaces budget`: the CLI of the
// workspace budget API (docs/guardrails.md).
func newWorkspacesBudgetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "budget", Short: "Set, list and delete workspace budgets"}
	cmd.AddCommand(newBudgetSetCmd(), newBudgetListCmd(), newBudgetDeleteCmd())
	return cmd
}

// budgetFlags adds --database and the required --user to cmd.
func budgetFlags(cmd *cobra.Command, dsn, email *string) {
	addDatabaseFlag(cmd, dsn)
	cmd.Flags().StringVar(email, "user", "", "email of the workspace's owner (required)")
	cmd.MarkFlagRequired("user")
}

func newBudgetSetCmd() *cobra.Command {
	var dsn, email string
	var includeBYOK bool
	cmd := &cobra.Command{
		Use:   "set --user EMAIL WORKSPACE INTERVAL USD",
		Short: "Set a workspace's budget for an interval",
		Long: `Set the budget of WORKSPACE (its id or slug) for INTERVAL (daily, weekly,
monthly or lifetime) to USD, what all its keys may spend together in that
window. --include-byok sets whether spending with the user's own provider
keys counts, for every budget of the workspace.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			usd, err := strconv.ParseFloat(args[2], 64)
			if err != nil {
				return fmt.Errorf("USD must be a number, not %q", args[2])
			}
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			var byok *bool
			if cmd.Flags().Changed("include-byok") {
				byok = &includeBYOK
			}
			b, err := svc.SetWorkspaceBudget(cmd.Context(), u.ID, args[0], args[1], usd, byok)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set the %s budget of workspace %s to %s USD\n",
				budgetInterval(b), b.WorkspaceID, strconv.FormatFloat(b.Limit.USD(), 'f', -1, 64))
			return nil
		},
	}
	budgetFlags(cmd, &dsn, &email)
	cmd.Flags().BoolVar(&includeBYOK, "include-byok", false, "count spending with the user's own provider keys (every budget of the workspace)")
	return cmd
}

func newBudgetListCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "list --user EMAIL WORKSPACE",
		Short: "List a workspace's budgets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, true)
			if err != nil {
				return err
			}
			defer closeFn()
			list, byok, err := svc.WorkspaceBudgets(cmd.Context(), u.ID, args[0])
			if err != nil {
				return cliError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INTERVAL\tLIMIT_USD\tINCLUDE_BYOK")
			for _, b := range list {
				fmt.Fprintf(tw, "%s\t%s\t%t\n", budgetInterval(b), strconv.FormatFloat(b.Limit.USD(), 'f', -1, 64), byok)
			}
			return tw.Flush()
		},
	}
	budgetFlags(cmd, &dsn, &email)
	return cmd
}

func newBudgetDeleteCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "delete --user EMAIL WORKSPACE INTERVAL",
		Short: "Delete a workspace's budget for an interval",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := svc.DeleteWorkspaceBudget(cmd.Context(), u.ID, args[0], args[1]); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted the %s budget of workspace %s\n", args[1], args[0])
			return nil
		},
	}
	budgetFlags(cmd, &dsn, &email)
	return cmd
}

// budgetInterval is a budget's interval as the path names it.
func budgetInterval(b *keygate.WorkspaceBudget) string {
	if b.Interval == keygate.ResetNone {
		return keygate.BudgetIntervalLifetime
	}
	return string(b.Interval)
}
