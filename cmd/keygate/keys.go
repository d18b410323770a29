package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys"}
	cmd.AddCommand(newKeysCreateCmd())
	return cmd
}

func newKeysCreateCmd() *cobra.Command {
	var dsn, email, name, limit, reset, expires string
	var management bool
	cmd := &cobra.Command{
		Use:   "create --user EMAIL",
		Short: "Create a key and print it alone on stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			svc, closeFn, err := openService(cmd, dsn)
			if err != nil {
				return err
			}
			defer closeFn()
			u, err := svc.UserByEmail(cmd.Context(), email)
			if err != nil {
				return cliError(err)
			}
			p := keygate.NewKeyParams{UserID: u.ID, Name: name, IsManagement: management, LimitReset: reset}
			if limit != "" {
				f, err := strconv.ParseFloat(limit, 64)
				if err != nil {
					return fmt.Errorf("--limit %q: want a number of USD", limit)
				}
				p.LimitUSD = &f
			}
			if expires != "" {
				p.ExpiresAt = &expires
			}
			secret, _, err := svc.CreateKey(cmd.Context(), p)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	f := cmd.Flags()
	addDatabaseFlag(cmd, &dsn)
	f.StringVar(&email, "user", "", "email of the key's owner (required)")
	f.BoolVar(&management, "management", false, "create a management key (authorizes /api/v1/keys and /api/v1/workspaces)")
	f.StringVar(&name, "name", "", "the key's name")
	f.StringVar(&limit, "limit", "", "spending limit in USD")
	f.StringVar(&reset, "limit-reset", "", "daily, weekly or monthly")
	f.StringVar(&expires, "expires-at", "", "expiry, RFC 3339 in UTC")
	cmd.MarkFlagRequired("user")
	return cmd
}

// openService opens the store named by dsn and returns a Service over it
// with a function that closes it.
func openService(cmd *cobra.Command, dsn string) (*keygate.Service, func(), error) {
	store, err := openStore(cmd.Context(), dsn)
	if err != nil {
		return nil, nil, err
	}
	svc := keygate.NewService(store, keygate.DefaultConfig())
	return svc, func() { store.Close() }, nil
}
