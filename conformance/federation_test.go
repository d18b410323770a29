package conformance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idtoken/idptest"
)

// TestFederationClients runs ts/federation.mjs: the official SDK's
// oAuth.createOauthToken and oAuth.listOauthJwks against a built keygate
// trusting an OpenID provider on loopback, then chat.send with the
// access token through the gateway, charged to the policy.
func TestFederationClients(t *testing.T) {
	root := moduleRoot(t)
	tsDir := filepath.Join(root, "conformance", "ts")
	requireNode(t, tsDir)
	bin := buildKeygate(t, root)
	db := filepath.Join(t.TempDir(), "kg.db")
	base := startServer(t, bin, db, "--models", startUpstream(t))
	idp := idptest.New(t)
	email := "ci-federation@example.com"
	keygate(t, bin, "users", "create", email, "--database", db)
	out := keygate(t, bin, "federation", "create", "--user", email, "--issuer", idp.URL, "--audience", "keygate",
		"--subject", "repo:octo-org/*", "--claim", "ref=refs/heads/main", "--limit", "0.5", "--database", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	policyID := lines[len(lines)-1]

	now := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "federation.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(),
		"KEYGATE_API_URL="+base+"/api/v1",
		"KEYGATE_POLICY_ID="+policyID,
		"KEYGATE_SUBJECT_TOKEN="+idp.Sign(idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", now)),
		"KEYGATE_REFUSED_TOKEN="+idp.Sign(idptest.GitHubActions(idp.URL, "keygate", "evil-org/app", "refs/heads/main", now)),
		"KEYGATE_POLICY_LIMIT=0.5",
		"KEYGATE_MODEL=t/cheap",
		"KEYGATE_PROMPT_PRICE=0.50",
		"KEYGATE_COMPLETION_PRICE=1.50",
	)
	cmd.WaitDelay = 5 * time.Second
	if out, err := streamOutput(t, cmd); err != nil {
		t.Fatalf("node federation.mjs: %v\n%s", err, summary(out))
	}
}
