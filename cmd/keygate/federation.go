package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

// newFederationCmd manages workload identity federation policies
// (docs/federation.md): which issuers' tokens may be exchanged for
// keygate access tokens, and what those spend.
func newFederationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "federation", Short: "Manage workload identity federation policies"}
	cmd.AddCommand(newFederationCreateCmd(), newFederationListCmd(), newFederationDeleteCmd())
	return cmd
}

func newFederationCreateCmd() *cobra.Command {
	var dsn, email, issuer, audience, subject, workspace, limit, reset string
	var claims []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --user EMAIL --issuer URL --audience AUD [--subject PATTERN] [--claim NAME=PATTERN]...",
		Short: "Create a federation policy and print its id alone on the last line",
		Long: `Create a federation policy: tokens of --issuer whose aud holds --audience,
whose sub matches --subject and whose claims match every --claim may be
exchanged at POST /api/v1/oauth/token for an access token of --token-ttl
(at most 15m) that spends through the policy's own key, with --limit.
In a pattern "*" matches any run of characters; a claim name may go into
objects with "/" (kubernetes.io/namespace). At least one --subject or
--claim is required. The new policy's id is printed alone on the last line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
			p := keygate.NewFederationPolicyParams{UserID: u.ID, Issuer: issuer, Audience: audience, Subject: subject,
				Claims: map[string]string{}, TokenTTL: ttl, LimitReset: reset}
			for _, c := range claims {
				name, pattern, ok := strings.Cut(c, "=")
				if !ok || name == "" {
					return fmt.Errorf("--claim %q: want NAME=PATTERN", c)
				}
				if _, dup := p.Claims[name]; dup {
					return fmt.Errorf("--claim %q: %s is given twice", c, name)
				}
				p.Claims[name] = pattern
			}
			if workspace != "" {
				p.WorkspaceID = &workspace
			}
			if limit != "" {
				f, err := strconv.ParseFloat(limit, 64)
				if err != nil {
					return fmt.Errorf("--limit %q: want a number of USD", limit)
				}
				p.LimitUSD = &f
			}
			pol, err := svc.CreateFederationPolicy(cmd.Context(), p)
			if err != nil {
				return cliError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created federation policy for %s: tokens of %s for %s, access tokens of %s\n",
				u.Email, pol.Issuer, pol.Audience, pol.TokenTTL)
			fmt.Fprintln(out, pol.ID)
			return nil
		},
	}
	f := cmd.Flags()
	addDatabaseFlag(cmd, &dsn)
	f.StringVar(&email, "user", "", "email of the policy's owner, whose key spends (required)")
	f.StringVar(&issuer, "issuer", "", "the trusted issuer URL, as its tokens' iss says (required)")
	f.StringVar(&audience, "audience", "", "the aud the tokens must carry (required)")
	f.StringVar(&subject, "subject", "", "pattern the sub claim must match")
	f.StringArrayVar(&claims, "claim", nil, "NAME=PATTERN a claim must match (repeatable)")
	f.StringVar(&workspace, "workspace", "", "workspace id (default: the user's default workspace)")
	f.StringVar(&limit, "limit", "", "spending limit in USD of everything spent through the policy")
	f.StringVar(&reset, "limit-reset", "", "daily, weekly or monthly")
	f.DurationVar(&ttl, "token-ttl", keygate.MaxAccessTokenTTL, "lifetime of issued access tokens, 1m to 15m")
	cmd.MarkFlagRequired("user")
	cmd.MarkFlagRequired("issuer")
	cmd.MarkFlagRequired("audience")
	return cmd
}

func newFederationListCmd() *cobra.Command {
	var dsn, email string
	cmd := &cobra.Command{
		Use:   "list [--user EMAIL]",
		Short: "List federation policies, oldest first (every user's without --user)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, closeFn, err := openService(cmd, dsn, true)
			if err != nil {
				return err
			}
			defer closeFn()
			userID := ""
			if email != "" {
				u, err := svc.UserByEmail(cmd.Context(), email)
				if err != nil {
					return cliError(err)
				}
				userID = u.ID
			}
			pols, err := svc.FederationPolicies(cmd.Context(), userID)
			if err != nil {
				return cliError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tISSUER\tAUDIENCE\tSUBJECT\tCLAIMS\tTTL\tKEY")
			for _, p := range pols {
				var conds []string
				for _, name := range slices.Sorted(maps.Keys(p.Claims)) {
					conds = append(conds, name+"="+p.Claims[name])
				}
				subject := p.Subject
				if subject == "" {
					subject = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Issuer, p.Audience, subject,
					strings.Join(conds, ","), p.TokenTTL, p.KeyHash[:hashPrefixLen])
			}
			return tw.Flush()
		},
	}
	addDatabaseFlag(cmd, &dsn)
	cmd.Flags().StringVar(&email, "user", "", "only this user's policies")
	return cmd
}

func newFederationDeleteCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a federation policy; its access tokens stop working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := svc.DeleteFederationPolicy(cmd.Context(), "", args[0]); err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted federation policy %s\n", args[0])
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	return cmd
}

// newJWKSCmd manages the keys that sign keygate's access tokens.
func newJWKSCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "jwks", Short: "Manage the keys that sign access tokens (GET /api/v1/oauth/jwks)"}
	var dsn string
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Sign new access tokens with a new key; the old one verifies until its tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			kid, err := svc.RotateSigningKey(cmd.Context())
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new signing key %s; the old key verifies for %s more\n", kid, keygate.SigningKeyGrace)
			return nil
		},
	}
	addDatabaseFlag(rotate, &dsn)
	cmd.AddCommand(rotate)
	return cmd
}
