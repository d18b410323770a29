// Command cli-login signs in to a keygate server through the browser and
// prints how much the new key may still spend.
//
//	go run ./examples/cli-login -server http://127.0.0.1:8080
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/keygate/keygate/client"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "keygate URL")
	flag.Parse()
	ctx := context.Background()

	res, err := client.Login(ctx, client.LoginOptions{ServerURL: *server, KeyLabel: "cli-login example"})
	if err != nil {
		log.Fatal(err)
	}
	key, err := client.New(res.BaseURL, client.WithAPIKey(res.Key)).GetCurrentKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if key.LimitRemaining == nil {
		fmt.Println("Signed in. The key has no spending limit.")
	} else {
		fmt.Printf("Signed in. The key may spend $%.2f more.\n", *key.LimitRemaining)
	}
}
