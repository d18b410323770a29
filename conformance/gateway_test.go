package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/gateway/upstreamtest"
)

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
