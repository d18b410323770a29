package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

// newGuardrailsCmd is `keygate guardrails`: the CLI of the guardrail API
// (docs/guardrails.md).
func newGuardrailsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "guardrails", Short: "Manage guardrails: models, providers and a shared limit for keys"}
	cmd.AddCommand(newGuardrailsCreateCmd(), newGuardrailsListCmd(), newGuardrailsAssignCmd(false),
		newGuardrailsAssignCmd(true), newGuardrailsDeleteCmd())
	return cmd
}

// guardrailFlags adds --database and the required --user to cmd.
func guardrailFlags(cmd *cobra.Command, dsn, email *string) {
	addDatabaseFlag(cmd, dsn)
	cmd.Flags().StringVar(email, "user", "", "email of the guardrail's owner (required)")
	cmd.MarkFlagRequired("user")
}

func newGuardrailsCreateCmd() *cobra.Command {
	var dsn, email, name, workspace, reset string
	var allowedModels, ignoredModels, allowedProviders, ignoredProviders []string
	var limit float64
	cmd := &cobra.Command{
		Use:   "create --user EMAIL --name NAME",
		Short: "Create a guardrail and print its id",
		Long: `Create a guardrail. --allowed-models and --allowed-providers restrict the keys
it is assigned to (comma-separated; provider names are the upstreams of the
--models file), --ignored-models and --ignored-providers refuse those, and
--limit-usd caps what its keys spend together, per --reset-interval (daily,
weekly, monthly; all time when absent).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			f := cmd.Flags()
			p := keygate.GuardrailParams{Name: &name,
				SetAllowedModels: f.Changed("allowed-models"), AllowedModels: allowedModels,
				SetIgnoredModels: f.Changed("ignored-models"), IgnoredModels: ignoredModels,
				SetAllowedProviders: f.Changed("allowed-providers"), AllowedProviders: allowedProviders,
				SetIgnoredProviders: f.Changed("ignored-providers"), IgnoredProviders: ignoredProviders,
			}
			if f.Changed("limit-usd") {
				p.SetLimitUSD, p.LimitUSD = true, &limit
			}
			if f.Changed("reset-interval") {
				p.SetResetInterval, p.ResetInterval = true, &reset
			}
			var ws *string
			if f.Changed("workspace") {
				ws = &workspace
			}
			g, err := svc.CreateGuardrail(cmd.Context(), u.ID, ws, p)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created guardrail %s\n", g.ID)
			return nil
		},
	}
	guardrailFlags(cmd, &dsn, &email)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the guardrail's name (required)")
	f.StringVar(&workspace, "workspace", "", "id of the user's workspace it belongs to (default: the default workspace)")
	f.StringSliceVar(&allowedModels, "allowed-models", nil, "the only models its keys may use")
	f.StringSliceVar(&ignoredModels, "ignored-models", nil, "models its keys may not use")
	f.StringSliceVar(&allowedProviders, "allowed-providers", nil, "the only upstreams its keys may use")
	f.StringSliceVar(&ignoredProviders, "ignored-providers", nil, "upstreams its keys may not use")
	f.Float64Var(&limit, "limit-usd", 0, "what its keys may spend together, in USD")
	f.StringVar(&reset, "reset-interval", "", "daily, weekly or monthly (default: all time)")
	cmd.MarkFlagRequired("name")
	return cmd
}

func newGuardrailsListCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "list --user EMAIL",
		Short: "List a user's guardrails, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, true)
			if err != nil {
				return err
			}
			defer closeFn()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tALLOWED_MODELS\tLIMIT_USD\tRESET\tCREATED")
			for offset := 0; ; offset += keygate.MaxGuardrailPage {
				page, total, err := svc.ListGuardrails(cmd.Context(), u.ID, nil, offset, keygate.MaxGuardrailPage)
				if err != nil {
					return cliError(err)
				}
				for _, g := range page {
					limit, reset, models := "-", "-", "-"
					if g.Limit != nil {
						limit = strconv.FormatFloat(g.Limit.USD(), 'f', -1, 64)
					}
					if g.LimitReset != keygate.ResetNone {
						reset = string(g.LimitReset)
					}
					if g.AllowedModels != nil {
						models = strings.Join(g.AllowedModels, ",")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.Name, models, limit, reset, g.CreatedAt.UTC().Format(time.RFC3339))
				}
				if len(page) == 0 || offset+len(page) >= total {
					break
				}
			}
			return tw.Flush()
		},
	}
	guardrailFlags(cmd, &dsn, &email)
	return cmd
}

// newGuardrailsAssignCmd is `guardrails assign`, or `guardrails unassign`
// when remove.
func newGuardrailsAssignCmd(remove bool) *cobra.Command {
	var dsn, email string
	use, short, verb := "assign", "Assign a guardrail to keys", "assigned"
	if remove {
		use, short, verb = "unassign", "Remove a guardrail from keys", "unassigned"
	}
	cmd := &cobra.Command{
		Use:   use + " --user EMAIL GUARDRAIL_ID KEY_HASH...",
		Short: short,
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			n, err := svc.AssignGuardrailKeys(cmd.Context(), u.ID, args[0], args[1:], remove)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d keys\n", verb, n)
			return nil
		},
	}
	guardrailFlags(cmd, &dsn, &email)
	return cmd
}

func newGuardrailsDeleteCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "delete --user EMAIL GUARDRAIL_ID",
		Short: "Delete a guardrail and its assignments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := svc.DeleteGuardrail(cmd.Context(), u.ID, args[0]); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted guardrail %s\n", args[0])
			return nil
		},
	}
	guardrailFlags(cmd, &dsn, &email)
	return cmd
}
