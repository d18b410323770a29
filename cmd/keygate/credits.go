package main

import (
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newCreditsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credits",
		Short: "Grant users credits and show their balance",
		Long: `A user's credits are the sum of what the operator granted them, an append-only
ledger. A user who was never granted anything has no balance: only their keys'
own limits apply. Once granted, the gateway and /api/v1/auth/verify answer 402
when the user's spending reaches their credits.`,
	}
	cmd.AddCommand(newCreditsGrantCmd(), newCreditsShowCmd())
	return cmd
}

func newCreditsGrantCmd() *cobra.Command {
	var dsn, email, amount, note string
	cmd := &cobra.Command{
		Use:   "grant --user EMAIL --amount USD [--note TEXT]",
		Short: "Add credits to a user's balance",
		Long: `Add credits to a user's balance: --amount is USD, at most six decimal places
(0 gives the user a balance without adding to it). Every keygate process on
the database sees the grant at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email == "" || amount == "" {
				return errors.New("--user and --amount are required")
			}
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			g, err := svc.GrantCredits(cmd.Context(), email, amount, note)
			if err != nil {
				return cliError(err)
			}
			u, err := svc.UserByEmail(cmd.Context(), email)
			if err != nil {
				return cliError(err)
			}
			c, err := svc.Credits(cmd.Context(), u.ID)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "granted %s to %s (grant %d); credits %s, used %s\n",
				usd(g.Amount.USD()), u.Email, g.ID, usd(c.Granted.USD()), usd(c.Used.USD()))
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	cmd.Flags().StringVar(&email, "user", "", "the user's email")
	cmd.Flags().StringVar(&amount, "amount", "", "USD to grant, e.g. 25 or 0.50")
	cmd.Flags().StringVar(&note, "note", "", "a note kept with the grant (at most 200 characters)")
	return cmd
}

func newCreditsShowCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "show --user EMAIL",
		Short: "Show a user's grants, credits and usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email == "" {
				return errors.New("--user is required")
			}
			svc, closeFn, err := openService(cmd, dsn, true)
			if err != nil {
				return err
			}
			defer closeFn()
			u, err := svc.UserByEmail(cmd.Context(), email)
			if err != nil {
				return cliError(err)
			}
			gs, err := svc.CreditGrants(cmd.Context(), email)
			if err != nil {
				return cliError(err)
			}
			c, err := svc.Credits(cmd.Context(), u.ID)
			if err != nil {
				return cliError(err)
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GRANT\tAMOUNT\tCREATED\tNOTE")
			for _, g := range gs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", g.ID, usd(g.Amount.USD()), g.CreatedAt.UTC().Format(time.RFC3339), g.Note)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			credits := "unlimited (never granted)"
			if c.Granted != nil {
				credits = usd(c.Granted.USD())
			}
			fmt.Fprintf(out, "credits: %s; used: %s\n", credits, usd(c.Used.USD()))
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	cmd.Flags().StringVar(&email, "user", "", "the user's email")
	return cmd
}

func newAppsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apps", Short: "Hide apps from rankings and public pages, or show them again"}
	for _, verb := range []string{"hide", "show"} {
		var dsn string
		short := "Hide an app from /rankings, /apps/ID and the app-rankings dataset (its usage is still metered)"
		if verb == "show" {
			short = "Show a hidden app again"
		}
		c := &cobra.Command{
			Use:   verb + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("ID must be an app's numeric id (app_id), not %q", args[0])
				}
				svc, closeFn, err := openService(cmd, dsn, false)
				if err != nil {
					return err
				}
				defer closeFn()
				a, err := svc.SetAppHidden(cmd.Context(), id, verb == "hide")
				if err != nil {
					return cliError(err)
				}
				state := "shown"
				if a.Hidden {
					state = "hidden"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "app %d (%s, %s) is %s\n", a.ID, a.Title, a.URL, state)
				return nil
			},
		}
		addDatabaseFlag(c, &dsn)
		cmd.AddCommand(c)
	}
	return cmd
}
