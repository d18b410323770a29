package main

import (
	"context"
	"fmt"

	"github.com/keygate/keygate"
)

const devEmail = "dev@localhost"

// devSetup creates the dev user and a management key on first start and
// prints them once; on later starts it says they exist and prints nothing
// secret.
func (m *Main) devSetup(ctx context.Context, publicURL string) error {
	out := m.Stdout
	if _, err := m.svc.UserByEmail(ctx, devEmail); err == nil {
		fmt.Fprintf(out, "\nDev user %s already exists; its password and key were printed on first start and are not shown again.\n"+
			"A new management key: keygate keys create --user %s --management --database %s\n"+
			"Sign in with a browser: %s\n\n", devEmail, devEmail, m.Config.Database, devAuthURL(publicURL))
		return nil
	}
	password := generatePassword()
	u, err := m.svc.CreateUser(ctx, devEmail, password)
	if err != nil {
		return fmt.Errorf("create dev user: %w", err)
	}
	key, _, err := m.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "dev management key", IsManagement: true})
	if err != nil {
		return fmt.Errorf("create dev key: %w", err)
	}
	fmt.Fprintf(out, `
keygate dev mode: created a user and a management key. They are shown only now.

  email:     %[1]s
  password:  %[2]s
  key:       %[3]s

Ask for an authorization code (the seed request):

  curl -s %[4]s/api/v1/auth/keys/code \
    -H 'Authorization: Bearer %[3]s' \
    -H 'Content-Type: application/json' \
    -d '{"callback_url":"http://localhost:3000/callback","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256","limit":100}'

Then exchange data.id with the verifier of that challenge:

  curl -s %[4]s/api/v1/auth/keys \
    -H 'Content-Type: application/json' \
    -d '{"code":"<data.id>","code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk","code_challenge_method":"S256"}'

Or sign in with a browser:

  %[5]s

(Its code_challenge is the S256 challenge of the verifier in the exchange above.)

`, devEmail, password, key, publicURL, devAuthURL(publicURL))
	return nil
}

// devAuthURL is an /auth URL for a loopback app on port 3000 with the RFC
// 7636 Appendix B challenge, so its code exchanges with that verifier.
func devAuthURL(publicURL string) string {
	return publicURL + "/auth?callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
}
