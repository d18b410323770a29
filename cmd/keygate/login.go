package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/client"
)

// credentials is what `keygate login` stores and `keygate whoami` reads.
type credentials struct {
	Server string `json:"server"` // API base URL
	Key    string `json:"key"`
	UserID string `json:"user_id,omitempty"`
}

// credentialsPath is <user config dir>/keygate/credentials.json
// ($XDG_CONFIG_HOME or ~/.config on Linux).
func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "keygate", "credentials.json"), nil
}

// saveCredentials writes c readable by the user alone (file 0600 in a 0700
// directory), replacing the file in one rename so that a crash never
// leaves half a key.
func saveCredentials(c credentials) (string, error) {
	path, err := credentialsPath()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	f, err := os.CreateTemp(dir, ".credentials-*") // created 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name()) // after the rename there is nothing left to remove
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

func loadCredentials() (credentials, error) {
	var c credentials
	path, err := credentialsPath()
	if err != nil {
		return c, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, errors.New("not logged in: run keygate login --server URL")
	} else if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Server == "" || c.Key == "" {
		return c, fmt.Errorf("%s is damaged: run keygate login again", path)
	}
	return c, nil
}

func newLoginCmd() *cobra.Command {
	var server, limit, label string
	var noBrowser, printKey bool
	cmd := &cobra.Command{
		Use:   "login --server URL",
		Short: "Sign in through the browser and store a new API key",
		Long: `Sign in through the browser and store a new API key.

login opens the server's consent page in your browser (or prints its URL
with --no-browser), receives the authorization code on a loopback address
and exchanges it for a key (OAuth PKCE). The key is stored, readable by you
alone, in the user config directory (keygate/credentials.json) and never
printed unless --print-key is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := client.LoginOptions{ServerURL: server, KeyLabel: label, Out: cmd.ErrOrStderr()}
			if limit != "" {
				f, err := strconv.ParseFloat(limit, 64)
				if err != nil || f < 0 || math.IsInf(f, 0) {
					return fmt.Errorf("--limit %q: want a number of USD, 0 or more", limit)
				}
				opts.Limit = &f
			}
			if noBrowser {
				opts.OpenBrowser = func(string) error { return nil } // Login prints the URL
			}
			res, err := client.Login(cmd.Context(), opts)
			if err != nil {
				return err
			}
			path, err := saveCredentials(credentials{Server: res.BaseURL, Key: res.Key, UserID: res.UserID})
			if err != nil {
				return fmt.Errorf("store the key: %w", err)
			}
			key, err := client.New(res.BaseURL, client.WithAPIKey(res.Key)).GetCurrentKey(cmd.Context())
			if err != nil {
				return err
			}
			// With --print-key, stdout carries the key alone, for scripts.
			out := cmd.OutOrStdout()
			if printKey {
				fmt.Fprintln(out, res.Key)
				out = cmd.ErrOrStderr()
			}
			fmt.Fprintf(out, "Logged in to %s.\n", res.BaseURL)
			printKeyInfo(out, key)
			fmt.Fprintf(out, "Key saved in %s\n", path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:8080", "keygate (or OpenRouter) URL: the site root or the API base")
	f.BoolVar(&noBrowser, "no-browser", false, "print the sign-in URL instead of opening a browser")
	f.StringVar(&limit, "limit", "", "spending limit to ask for, in USD")
	f.StringVar(&label, "label", defaultLoginLabel(), "name of the new key")
	f.BoolVar(&printKey, "print-key", false, "print the key alone on stdout (the summary goes to stderr)")
	return cmd
}

func newWhoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the stored key as the server sees it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCredentials()
			if err != nil {
				return err
			}
			key, err := client.New(c.Server, client.WithAPIKey(c.Key)).GetCurrentKey(cmd.Context())
			if errors.Is(err, client.ErrUnauthorized) {
				return fmt.Errorf("%s no longer accepts the stored key (disabled, expired or deleted): run keygate login again", c.Server)
			} else if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Server:  %s\n", c.Server)
			if c.UserID != "" {
				fmt.Fprintf(out, "User:    %s\n", c.UserID)
			}
			printKeyInfo(out, key)
			return nil
		},
	}
}

// printKeyInfo prints a key's label, limit, usage and expiry; never the
// key itself.
func printKeyInfo(w io.Writer, k *apitype.CurrentKey) {
	kind := ""
	if k.IsManagementKey {
		kind = " (management key)"
	}
	fmt.Fprintf(w, "Key:     %s%s\n", k.Label, kind)
	if k.Limit == nil {
		fmt.Fprintf(w, "Limit:   none (%s spent)\n", usd(k.Usage))
	} else {
		reset, left := "", "?"
		if k.LimitReset != nil {
			reset = " " + *k.LimitReset
		}
		if k.LimitRemaining != nil {
			left = usd(*k.LimitRemaining)
		}
		fmt.Fprintf(w, "Limit:   %s%s, %s left\n", usd(*k.Limit), reset, left)
	}
	if k.ExpiresAt != nil {
		fmt.Fprintf(w, "Expires: %s\n", *k.ExpiresAt)
	} else {
		fmt.Fprintln(w, "Expires: never")
	}
}

// usd formats dollars with cents, and with more digits only when a cent
// would hide them.
func usd(v float64) string {
	if math.Round(v*100) == v*100 {
		return fmt.Sprintf("$%.2f", v)
	}
	return "$" + strconv.FormatFloat(v, 'f', -1, 64)
}

// defaultLoginLabel names the key after this machine, so that the consent
// page and the key list say where it lives.
func defaultLoginLabel() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return "keygate CLI on " + h
	}
	return "keygate CLI"
}
