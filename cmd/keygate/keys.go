package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys"}
	cmd.AddCommand(newKeysCreateCmd(), newKeysListCmd(),
		newKeysSetDisabledCmd("disable", true), newKeysSetDisabledCmd("enable", false), newKeysDeleteCmd())
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
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, false)
			if err != nil {
				return err
			}
			defer closeFn()
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
	f.StringVar(&name, "name", "CLI key", "the key's name, 1 to 100 characters")
	f.StringVar(&limit, "limit", "", "spending limit in USD")
	f.StringVar(&reset, "limit-reset", "", "daily, weekly or monthly")
	f.StringVar(&expires, "expires-at", "", "expiry, RFC 3339 in UTC")
	cmd.MarkFlagRequired("user")
	return cmd
}

// openService opens the store named by dsn, for reading only when
// readOnly (openStoreMode), and returns a Service over it with a
// function that closes it.
func openService(cmd *cobra.Command, dsn string, readOnly bool) (*keygate.Service, func(), error) {
	store, err := openStoreMode(cmd.Context(), dsn, readOnly)
	if err != nil {
		return nil, nil, err
	}
	// Audit events are stored; echoing them to the terminal would only
	// clutter the output of an administrative command.
	quiet := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := keygate.NewService(store, keygate.DefaultConfig(), keygate.WithLogger(quiet))
	return svc, func() { store.Close() }, nil
}

// openUserService is openService for a command about one user's things:
// it opens the store and finds the user by email.
func openUserService(cmd *cobra.Command, dsn, email *string, readOnly bool) (*keygate.Service, *keygate.User, func(), error) {
	svc, closeFn, err := openService(cmd, *dsn, readOnly)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := svc.UserByEmail(cmd.Context(), *email)
	if err != nil {
		closeFn()
		return nil, nil, nil, cliError(err)
	}
	return svc, u, closeFn, nil
}

// hashPrefixLen is how much of a hash `keys list` shows without --no-trunc.
const hashPrefixLen = 12

func newKeysListCmd() *cobra.Command {
	var dsn, email string
	var includeDisabled, noTrunc bool
	cmd := &cobra.Command{
		Use:   "list --user EMAIL",
		Short: "List a user's keys in every workspace, newest first",
		Long: `List a user's keys in every workspace, newest first: hash, name, limit in USD
with its reset interval, whether the key is disabled, and its expiry (UTC).
Hashes are cut to 12 digits unless --no-trunc is given; disable, enable and
delete take the full hash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, u, closeFn, err := openUserService(cmd, &dsn, &email, true)
			if err != nil {
				return err
			}
			defer closeFn()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HASH\tNAME\tLIMIT\tDISABLED\tEXPIRES")
			for offset := 0; ; offset += keygate.KeyPageSize {
				page, err := svc.ListKeys(cmd.Context(), keygate.ListKeysParams{
					UserID: u.ID, AllWorkspaces: true, IncludeDisabled: includeDisabled, Offset: offset,
				})
				if err != nil {
					return cliError(err)
				}
				for _, info := range page {
					k := info.Key
					hash := k.Hash
					if !noTrunc {
						hash = hash[:hashPrefixLen]
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", hash, k.Name, limitText(k), k.Disabled, expiryText(k))
				}
				if len(page) < keygate.KeyPageSize {
					break
				}
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	addDatabaseFlag(cmd, &dsn)
	f.StringVar(&email, "user", "", "email of the keys' owner (required)")
	f.BoolVar(&includeDisabled, "include-disabled", false, "list disabled keys too")
	f.BoolVar(&noTrunc, "no-trunc", false, "show whole hashes")
	cmd.MarkFlagRequired("user")
	return cmd
}

// limitText shows a key's limit as "$10.00", "$10.00/daily" or "-".
func limitText(k *keygate.APIKey) string {
	if k.Limit == nil {
		return "-"
	}
	s := "$" + strconv.FormatFloat(k.Limit.USD(), 'f', 2, 64)
	if k.LimitReset != keygate.ResetNone {
		s += "/" + string(k.LimitReset)
	}
	return s
}

func expiryText(k *keygate.APIKey) string {
	if k.ExpiresAt == nil {
		return "never"
	}
	return k.ExpiresAt.UTC().Format(time.RFC3339)
}

// hashError words the service's errors about a HASH argument for the
// terminal.
func hashError(hash string, err error) error {
	switch keygate.ErrorCode(err) {
	case keygate.EINVALID:
		return fmt.Errorf("HASH must be the whole key hash, 64 lower-case hex digits (keygate keys list --no-trunc shows it)")
	case keygate.ENOTFOUND:
		return fmt.Errorf("no key has hash %s", hash)
	}
	return cliError(err)
}

// cacheNote tells when a server in another process sees the change: every
// change is announced in the database, and servers follow the
// announcements (cmd/keygate/changes.go).
var cacheNote = fmt.Sprintf(`A server already running on the same database sees the change within %v on
SQLite (it reads the announcements that often) and at once on PostgreSQL.`, sqlite.PollInterval)

func newKeysSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   verb + " HASH",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a key, named by its hash",
		Long:  strings.ToUpper(verb[:1]) + verb[1:] + " the key whose hash (hex SHA-256) is HASH.\n" + cacheNote,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			k, err := svc.SetKeyDisabledByHash(cmd.Context(), args[0], disabled)
			if err != nil {
				return hashError(args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%sd key %s (%s)\n", verb, k.Hash[:hashPrefixLen], k.Name)
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	return cmd
}

func newKeysDeleteCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "delete HASH",
		Short: "Delete a key, named by its hash",
		Long:  "Delete the key whose hash (hex SHA-256) is HASH. Its usage history is kept.\n" + cacheNote,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			k, err := svc.DeleteKeyByHash(cmd.Context(), args[0])
			if err != nil {
				return hashError(args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted key %s (%s)\n", k.Hash[:hashPrefixLen], k.Name)
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	return cmd
}
