package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"

	"github.com/spf13/pflag"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/server"
)

// OIDCConfig is the upstream OpenID providers people may sign in with
// (docs/federation.md, "Sign-in through your identity provider"). The
// repeated flags go together by position: the first --oidc-issuer with
// the first --oidc-client-id, --oidc-client-secret-env and --oidc-name.
type OIDCConfig struct {
	Issuers    []string
	ClientIDs  []string
	SecretEnvs []string // names of environment variables holding the client secrets
	Names      []string // display names; the issuer's host when absent
	// CreateAccounts and LinkByEmail list issuers: an identity of theirs
	// that no account is linked to gets a new account, or is linked to
	// the account of its verified email.
	CreateAccounts []string
	LinkByEmail    []string
	// NoPasswordLogin turns password sign-in off; it needs a provider.
	NoPasswordLogin bool
}

func addOIDCFlags(f *pflag.FlagSet, c *OIDCConfig) {
	f.StringArrayVar(&c.Issuers, "oidc-issuer", nil, "issuer URL of an OpenID provider people may sign in with (repeatable)")
	f.StringArrayVar(&c.ClientIDs, "oidc-client-id", nil, "keygate's client id at the provider of the same position (repeatable)")
	f.StringArrayVar(&c.SecretEnvs, "oidc-client-secret-env", nil, "environment variable holding the client secret at the provider of the same position (repeatable)")
	f.StringArrayVar(&c.Names, "oidc-name", nil, `name on the "Sign in with" button of the provider of the same position (repeatable; default its host)`)
	f.StringArrayVar(&c.CreateAccounts, "oidc-create-accounts", nil, "issuer whose people get an account at their first sign-in (repeatable)")
	f.StringArrayVar(&c.LinkByEmail, "oidc-link-by-email", nil, "issuer whose people are linked to the account of their email when the provider says it is verified (repeatable)")
	f.BoolVar(&c.NoPasswordLogin, "no-password-login", false, "turn password sign-in off (needs an --oidc-issuer)")
}

// providers checks c, reading each client secret with getenv, and returns
// the providers, reporting every problem at once.
func (c OIDCConfig) providers(getenv func(string) string) ([]server.OIDCProvider, error) {
	var errs []error
	n := len(c.Issuers)
	if len(c.ClientIDs) != n || len(c.SecretEnvs) != n || len(c.Names) > n {
		errs = append(errs, fmt.Errorf("--oidc-issuer (%d), --oidc-client-id (%d) and --oidc-client-secret-env (%d) must be given as many times, --oidc-name (%d) at most as many",
			n, len(c.ClientIDs), len(c.SecretEnvs), len(c.Names)))
	}
	if c.NoPasswordLogin && n == 0 {
		errs = append(errs, errors.New("--no-password-login needs an --oidc-issuer: nobody could sign in"))
	}
	for _, list := range []struct {
		flag    string
		issuers []string
	}{{"--oidc-create-accounts", c.CreateAccounts}, {"--oidc-link-by-email", c.LinkByEmail}} {
		for _, iss := range list.issuers {
			if !slices.Contains(c.Issuers, iss) {
				errs = append(errs, fmt.Errorf("%s %q: not an --oidc-issuer", list.flag, iss))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []server.OIDCProvider
	for i, iss := range c.Issuers {
		u, err := url.Parse(iss)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("--oidc-issuer %q: want an https URL", iss))
			continue
		}
		if c.ClientIDs[i] == "" {
			errs = append(errs, fmt.Errorf("--oidc-client-id of %s is empty", iss))
		}
		secret := getenv(c.SecretEnvs[i])
		if c.SecretEnvs[i] == "" || secret == "" {
			errs = append(errs, fmt.Errorf("--oidc-client-secret-env of %s: the variable %q is unset or empty", iss, c.SecretEnvs[i]))
		}
		name := u.Host
		if i < len(c.Names) && c.Names[i] != "" {
			name = c.Names[i]
		}
		out = append(out, server.OIDCProvider{Name: name, Issuer: iss, ClientID: c.ClientIDs[i], ClientSecret: secret,
			Accounts: keygate.UpstreamAccounts{CreateAccounts: slices.Contains(c.CreateAccounts, iss), LinkByEmail: slices.Contains(c.LinkByEmail, iss)}})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// getenv is os.Getenv: only this package reads the environment.
var getenv = os.Getenv
