package gateway_test

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestOpenAIGoClient drives keygate with the official openai-go client,
// unchanged but for its base URL: chat, streaming chat (with OpenAI's null
// quirks from the upstream) and embeddings, each charged.
func TestOpenAIGoClient(t *testing.T) {
	e := newEnv(t)
	u := &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20}
	e.script("cheap-v2", upstreamtest.Reply{Usage: u, Content: []string{"Hel", "lo"}, NullQuirks: true})
	key := e.key(usd(1))
	client := openai.NewClient(option.WithBaseURL(e.srv.URL+"/api/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	ctx := t.Context()
	params := openai.ChatCompletionNewParams{
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		Model:    "t/cheap",
	}

	c, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != "Hello" || c.Usage.TotalTokens != 30 {
		t.Errorf("chat = %q usage %d", c.Choices[0].Message.Content, c.Usage.TotalTokens)
	}
	if got := e.spent(key); got != 35 {
		t.Errorf("after chat: charged %d µ$, want 35", got)
	}

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != "Hello" {
		t.Errorf("streamed text %q", text.String())
	}
	if got := e.spent(key); got != 70 {
		t.Errorf("after streaming chat: charged %d µ$, want 70", got)
	}

	e.script("cheap-v2", upstreamtest.Reply{Usage: &upstreamtest.Usage{PromptTokens: 8}})
	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		Model: "t/cheap",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 1 || len(emb.Data[0].Embedding) != 3 {
		t.Errorf("embeddings = %+v", emb.Data)
	}
	if got := e.spent(key); got != 74 {
		t.Errorf("after embeddings: charged %d µ$, want 74", got)
	}
}
