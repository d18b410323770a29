package conformance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

// TestGatewayClients runs real LLM clients, unchanged but for their base
// URL, through keygate's gateway to the scripted upstream (ts/gateway.mjs:
// the official SDK, the openai package, the Vercel AI SDK with the
// OpenRouter provider), each charge checked to the micro-dollar, on SQLite.
func TestGatewayClients(t *testing.T) {
	root := moduleRoot(t)
	tsDir := filepath.Join(root, "conformance", "ts")
	requireNode(t, tsDir)
	bin := buildKeygate(t, root)
	db := filepath.Join(t.TempDir(), "kg.db")
	base := startServer(t, bin, db, "--models", startUpstream(t))
	email := "gateway-clients@example.com"
	keygate(t, bin, "users", "create", email, "--database", db)
	userKey := newKey(t, bin, "keys", "create", "--user", email, "--database", db)
	spentKey := newKey(t, bin, "keys", "create", "--user", email, "--limit", "0", "--database", db)

	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "gateway.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(),
		"KEYGATE_API_URL="+base+"/api/v1",
		"KEYGATE_USER_KEY="+userKey,
		"KEYGATE_LIMITED_KEY="+spentKey,
		"KEYGATE_MODEL=t/cheap",
		"KEYGATE_EMBED_MODEL=t/cheap",
		"KEYGATE_PROMPT_PRICE=0.50",
		"KEYGATE_COMPLETION_PRICE=1.50",
	)
	cmd.WaitDelay = 5 * time.Second
	if out, err := streamOutput(t, cmd); err != nil {
		t.Fatalf("node gateway.mjs: %v\n%s", err, summary(out))
	}
}

// startUpstream starts the scripted upstream the gateway checks of run.mjs
// talk to through keygate, and returns a models file for it. Each model
// scripts its answers (the upstream is asked for the same name):
//
//	t/cheap   0.50/1.50 USD per million tokens; 10/20 tokens (35 µ$), with
//	          OpenAI's null members and a keep-alive comment on streams
//	t/broken  streams two chunks, then an error event with "code": null
func startUpstream(t *testing.T) string {
	t.Helper()
	up := upstreamtest.New(func(r *upstreamtest.Request) upstreamtest.Reply {
		rep := upstreamtest.Reply{
			Content:    []string{"Hello", " from", " keygate"},
			Usage:      &upstreamtest.Usage{PromptTokens: 10, CompletionTokens: 20},
			NullQuirks: true,
			Comments:   []string{" OPENROUTER PROCESSING"},
		}
		if r.Model == "t/broken" {
			rep.ErrorAfter = 2
		}
		return rep
	})
	t.Cleanup(up.Close)
	file := filepath.Join(t.TempDir(), "models.yaml")
	models := fmt.Sprintf(`upstreams:
  tu: {base_url: %q, timeout: 10s}
models:
  - {name: t/cheap, upstream: tu, pricing: {prompt: 0.50, completion: 1.50}}
  - {name: t/broken, upstream: tu, pricing: {prompt: 0.50, completion: 1.50}}
`, up.URL+"/v1")
	if err := os.WriteFile(file, []byte(models), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
