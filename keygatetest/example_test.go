package keygatetest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/emulator"
	"github.com/keygate/keygate/keygatetest"
)

// A key with a daily limit runs out, and is allowed again the next day:
// the official openai-go client pointed at the emulator, the clock moved
// by the test. In a test, keygatetest.New(t) replaces Start and Close.
func Example() {
	srv, err := keygatetest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	limit := 0.001 // USD a day
	key := srv.CreateKey(emulator.KeyParams{NewKeyParams: keygate.NewKeyParams{LimitUSD: &limit, LimitReset: "daily"}})
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/api/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	chat := func() {
		c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    emulator.EchoModel,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from the test")},
		})
		var apiErr *openai.Error
		switch {
		case errors.As(err, &apiErr):
			fmt.Println(apiErr.StatusCode)
		case err != nil:
			panic(err)
		default:
			// 4 prompt and 4 completion words at 5 and 15 USD per million.
			fmt.Println(c.Choices[0].Message.Content, c.Usage.TotalTokens)
		}
	}

	chat()
	srv.SetUsage(key, limit) // the day's limit is spent
	chat()
	srv.AdvanceClock(24 * time.Hour)
	chat()
	// Output:
	// hello from the test 8
	// 403
	// hello from the test 8
}
