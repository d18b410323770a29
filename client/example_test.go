package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/pkce"
)

func ExampleNew() {
	kg := mustStartKeygate() // a keygate on a temporary database, with one user
	defer kg.Close()

	c := client.New(kg.APIBase, // e.g. "https://openrouter.ai/api/v1"
		client.WithAPIKey(kg.userKey),
		client.WithAttribution("https://myapp.example", "My App", "cli-agent"),
	)
	key, err := c.GetCurrentKey(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.Label, key.IsManagementKey)
	// Output: user key false
}

// An app holding a user's key asks for a code, and the code and its
// verifier buy a new key with its own limit.
func ExampleClient_CreateAuthCode() {
	kg := mustStartKeygate()
	defer kg.Close()
	ctx := context.Background()

	verifier := pkce.NewVerifier()
	limit := 10.0
	code, err := client.New(kg.APIBase, client.WithAPIKey(kg.userKey)).CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{
		CallbackURL:         "https://myapp.example/auth/callback",
		CodeChallenge:       pkce.ChallengeS256(verifier),
		CodeChallengeMethod: "S256",
		Limit:               &limit,
		KeyLabel:            "My App",
	})
	if err != nil {
		log.Fatal(err)
	}

	// The exchange needs no key: the code and the verifier are the proof.
	method := "S256"
	res, err := client.New(kg.APIBase).ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{
		Code:                code.ID,
		CodeVerifier:        verifier,
		CodeChallengeMethod: &method,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(res.Key, "sk-kg-v1-"))
	// Output: true
}

func ExampleClient_GetCurrentKey() {
	kg := mustStartKeygate()
	defer kg.Close()

	key, err := client.New(kg.APIBase, client.WithAPIKey(kg.userKey)).GetCurrentKey(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	if key.LimitRemaining == nil {
		fmt.Printf("%s: no limit, $%.2f spent\n", key.Label, key.Usage)
	} else {
		fmt.Printf("%s: $%.2f left\n", key.Label, *key.LimitRemaining)
	}
	// Output: user key: no limit, $0.00 spent
}

func ExampleClient_CreateAuthorizationURL() {
	c := client.New("https://openrouter.ai/api/v1")
	u, err := c.CreateAuthorizationURL(client.AuthorizationURLParams{
		CallbackURL:         "http://localhost:3000/callback",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", // pkce.ChallengeS256(verifier)
		CodeChallengeMethod: "S256",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output: https://openrouter.ai/auth?callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256
}

// A command-line program signs its user in through the browser and gets
// a key of its own.
func ExampleLogin() {
	kg := mustStartKeygate()
	defer kg.Close()
	ctx := context.Background()

	limit := 5.0
	res, err := client.Login(ctx, client.LoginOptions{
		ServerURL: kg.URL(), // the site root; its API is at /api/v1
		Limit:     &limit,
		KeyLabel:  "my CLI",
		// Leave OpenBrowser nil to open the user's browser. Here a
		// scripted browser signs in and presses Approve.
		OpenBrowser: kg.approveInBrowser,
		Out:         io.Discard, // where the URL is printed; nil is os.Stderr
	})
	if err != nil {
		log.Fatal(err)
	}
	key, err := client.New(res.BaseURL, client.WithAPIKey(res.Key)).GetCurrentKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: $%.2f of $%.2f left\n", key.Label, *key.LimitRemaining, *key.Limit)
	// Output: my CLI: $5.00 of $5.00 left
}
