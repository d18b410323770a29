package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage users"}
	var dsn string
	var fromStdin, admin bool
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user with a default workspace",
		Long: `Create a user. The password is read from standard input with --password-stdin;
otherwise one is generated and printed once. With --admin, or as the first user,
the user is an admin: it manages accounts at /admin/users and /admin/apps.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, generated, err := newPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			create := svc.CreateUser
			if admin {
				create = svc.CreateAdmin
			}
			u, err := create(cmd.Context(), args[0], password)
			if err != nil {
				return cliError(err)
			}
			out := cmd.OutOrStdout()
			role := "user"
			if u.IsAdmin {
				role = "admin"
			}
			fmt.Fprintf(out, "created %s %s (id %s)\n", role, u.Email, u.ID)
			if generated {
				fmt.Fprintf(out, "password: %s\n", password)
			}
			return nil
		},
	}
	addDatabaseFlag(create, &dsn)
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	create.Flags().BoolVar(&admin, "admin", false, "make the user an admin (the first user always is)")
	cmd.AddCommand(create, newUsersListCmd(), newUsersSetPasswordCmd(),
		newUsersSetDisabledCmd("disable", true), newUsersSetDisabledCmd("enable", false))
	return cmd
}

func newUsersListCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users, oldest first",
		Long: `List users, oldest first: email, id, whether the user is disabled, when the
user was created (UTC), and whether the user is an admin. Reads the database only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, closeFn, err := openService(cmd, dsn, true)
			if err != nil {
				return err
			}
			defer closeFn()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tID\tDISABLED\tCREATED\tADMIN")
			for offset := 0; ; offset += keygate.MaxUserPage {
				page, total, err := svc.ListUsers(cmd.Context(), offset, keygate.MaxUserPage)
				if err != nil {
					return cliError(err)
				}
				for _, u := range page {
					fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%t\n", u.Email, u.ID, u.Disabled, u.CreatedAt.UTC().Format(time.RFC3339), u.IsAdmin)
				}
				if len(page) == 0 || offset+len(page) >= total {
					break
				}
			}
			return tw.Flush()
		},
	}
	addDatabaseFlag(cmd, &dsn)
	return cmd
}

func newUsersSetPasswordCmd() *cobra.Command {
	var dsn string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "set-password EMAIL",
		Short: "Give a user a new password and sign them out everywhere",
		Long: `Give a user a new password. The password is read from standard input with
--password-stdin; otherwise one is generated and printed once. Every browser
session of the user ends; their keys are not touched.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, generated, err := newPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			u, err := svc.SetPassword(cmd.Context(), args[0], password)
			if err != nil {
				return cliError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "set the password of %s\n", u.Email)
			if generated {
				fmt.Fprintf(out, "password: %s\n", password)
			}
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func newUsersSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	var dsn string
	long := `Disable a user: they can no longer sign in, and every browser session of
theirs ends. Keys they already hold keep working: disable them with
keygate keys disable (keygate keys list --user EMAIL shows them).`
	if !disabled {
		long = "Enable a disabled user again: they can sign in."
	}
	cmd := &cobra.Command{
		Use:   verb + " EMAIL",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a user",
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			u, err := svc.SetUserDisabled(cmd.Context(), args[0], disabled)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%sd user %s\n", verb, u.Email)
			return nil
		},
	}
	addDatabaseFlag(cmd, &dsn)
	return cmd
}

// newPassword returns the password a command sets: one line of standard
// input with --password-stdin, else a generated one (generated is true).
func newPassword(cmd *cobra.Command, fromStdin bool) (password string, generated bool, err error) {
	if fromStdin {
		p, err := readPassword(cmd.InOrStdin())
		return p, false, err
	}
	return generatePassword(), true, nil
}

// readPassword reads one line from r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// generatePassword returns 20 characters from a 57-symbol alphabet without
// look-alikes (about 116 bits).
func generatePassword() string {
	return rand.Text()[:20]
}

// cliError turns a service error into a message for the terminal.
func cliError(err error) error {
	if e, ok := errors.AsType[*keygate.Error](err); ok {
		return errors.New(e.Message)
	}
	return err
}
