package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate"
)

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage users"}
	var dsn string
	var fromStdin bool
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user with a default workspace",
		Long: `Create a user. The password is read from standard input with --password-stdin;
otherwise one is generated and printed once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			password, generated := "", false
			if fromStdin {
				p, err := readPassword(cmd.InOrStdin())
				if err != nil {
					return err
				}
				password = p
			} else {
				password, generated = generatePassword(), true
			}
			svc, closeFn, err := openService(cmd, dsn, false)
			if err != nil {
				return err
			}
			defer closeFn()
			u, err := svc.CreateUser(cmd.Context(), args[0], password)
			if err != nil {
				return cliError(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created user %s (id %s)\n", u.Email, u.ID)
			if generated {
				fmt.Fprintf(out, "password: %s\n", password)
			}
			return nil
		},
	}
	addDatabaseFlag(create, &dsn)
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	cmd.AddCommand(create)
	return cmd
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
