package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keygate/keygate"
)

// mintFrom makes a code with parent and exchanges it, returning the child
// key, or the code request's response when it is refused.
func (e *env) mintFrom(parent string, body map[string]any) (string, *response) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/keys/code", body, "Authorization", "Bearer "+parent)
	if r.status != http.StatusOK {
		return "", r
	}
	c := r.json(e.t)["data"].(map[string]any)["id"].(string)
	x := e.exchange(map[string]any{"code": c, "code_verifier": V1})
	if x.status != http.StatusOK {
		e.t.Fatalf("exchange: %d %s", x.status, x.body)
	}
	return x.json(e.t)["key"].(string), nil
}

// TestDelegationDepthBounded: a chain of keys minted from keys is at most
// eight deep, and disabling its root stops its deepest key.
func TestDelegationDepthBounded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	limit := 1.0
	root, rootKey, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "root", LimitUSD: &limit})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{root}
	for i := 1; i <= 8; i++ {
		k, r := e.mintFrom(keys[len(keys)-1], s256Body())
		if r != nil {
			t.Fatalf("level %d: %d %s", i, r.status, r.body)
		}
		keys = append(keys, k)
	}
	if _, r := e.mintFrom(keys[8], s256Body()); r == nil || r.status != http.StatusForbidden {
		t.Fatalf("a ninth level was minted, want 403")
	} else if msg := r.errMessage(t); msg == "" {
		t.Fatal("empty message")
	}
	if r := e.do("PATCH", "/api/v1/keys/"+rootKey.Hash, map[string]any{"disabled": true}, "Authorization", "Bearer "+e.mgmtKey); r.status != 200 {
		t.Fatalf("disable root: %d %s", r.status, r.body)
	}
	for i, k := range keys {
		if r := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+k); r.status != http.StatusUnauthorized {
			t.Errorf("level %d after the root was disabled: %d, want 401", i, r.status)
		}
	}
}

// TestDelegatedCodeDiesWithItsParent: a code made by an ordinary key that
// is disabled before the exchange mints nothing.
func TestDelegatedCodeDiesWithItsParent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	parent, parentKey, err := e.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: e.user.ID, Name: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/auth/keys/code", s256Body(), "Authorization", "Bearer "+parent)
	c := r.json(t)["data"].(map[string]any)["id"].(string)
	if r := e.do("PATCH", "/api/v1/keys/"+parentKey.Hash, map[string]any{"disabled": true}, "Authorization", "Bearer "+e.mgmtKey); r.status != 200 {
		t.Fatalf("disable parent: %d %s", r.status, r.body)
	}
	x := e.exchange(map[string]any{"code": c, "code_verifier": V1})
	if x.status != http.StatusForbidden || x.errMessage(t) != keygate.MsgInvalidCode {
		t.Fatalf("exchange after the parent was disabled: %d %s, want 403 %s", x.status, x.body, keygate.MsgInvalidCode)
	}
}

// TestCodeDiesWithItsManagementKey: a code made by a management key is
// worth no more than that key either: disabled or deleted before the
// exchange, the code mints nothing; re-enabled, it mints again.
func TestCodeDiesWithItsManagementKey(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *env, hash string) *response
		want   int
	}{
		{"untouched", func(*env, string) *response { return nil }, http.StatusOK},
		{"disabled", func(e *env, hash string) *response {
			return e.do("PATCH", "/api/v1/keys/"+hash, map[string]any{"disabled": true}, "Authorization", "Bearer "+e.mgmtKey)
		}, http.StatusForbidden},
		{"deleted", func(e *env, hash string) *response {
			return e.do("DELETE", "/api/v1/keys/"+hash, nil, "Authorization", "Bearer "+e.mgmtKey)
		}, http.StatusForbidden},
		{"disabled-and-enabled", func(e *env, hash string) *response {
			e.do("PATCH", "/api/v1/keys/"+hash, map[string]any{"disabled": true}, "Authorization", "Bearer "+e.mgmtKey)
			return e.do("PATCH", "/api/v1/keys/"+hash, map[string]any{"disabled": false}, "Authorization", "Bearer "+e.mgmtKey)
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			secret, k, err := e.svc.CreateKey(context.Background(), keygate.NewKeyParams{UserID: e.user.ID, Name: "maker", IsManagement: true})
			if err != nil {
				t.Fatal(err)
			}
			r := e.do("POST", "/api/v1/auth/keys/code", s256Body(), "Authorization", "Bearer "+secret)
			if r.status != http.StatusOK {
				t.Fatalf("create code: %d %s", r.status, r.body)
			}
			c := r.json(t)["data"].(map[string]any)["id"].(string)
			if r := tt.change(e, k.Hash); r != nil && r.status != http.StatusOK {
				t.Fatalf("change the management key: %d %s", r.status, r.body)
			}
			x := e.exchange(map[string]any{"code": c, "code_verifier": V1})
			if x.status != tt.want {
				t.Fatalf("exchange: %d %s, want %d", x.status, x.body, tt.want)
			}
			if tt.want != http.StatusOK && x.errMessage(t) != keygate.MsgInvalidCode {
				t.Fatalf("exchange: %s, want %s", x.body, keygate.MsgInvalidCode)
			}
		})
	}
}

// TestExchangeRacingWorkspaceDelete: a code whose workspace is deleted
// before the exchange is a 403, never a 500.
func TestExchangeRacingWorkspaceDelete(t *testing.T) {
	e := newEnv(t)
	ws := e.do("POST", "/api/v1/workspaces", map[string]any{"name": "Scratch"}, "Authorization", "Bearer "+e.mgmtKey)
	if ws.status != http.StatusCreated {
		t.Fatalf("create workspace: %d %s", ws.status, ws.body)
	}
	id := ws.json(t)["data"].(map[string]any)["id"].(string)
	c := e.code(s256Body("workspace_id", id))
	if r := e.do("DELETE", "/api/v1/workspaces/"+id, nil, "Authorization", "Bearer "+e.mgmtKey); r.status != 200 {
		t.Fatalf("delete workspace: %d %s", r.status, r.body)
	}
	x := e.exchange(map[string]any{"code": c, "code_verifier": V1})
	if x.status != http.StatusForbidden {
		t.Fatalf("exchange after the workspace went: %d %s, want 403", x.status, x.body)
	}
}

// TestAppTitleCannotBeHijacked: apps are shared, but a key minted without a
// label is named by the title its own code request gave, and a request
// without a title leaves the stored one alone.
func TestAppTitleCannotBeHijacked(t *testing.T) {
	e := newEnv(t)
	_, otherKey := e.newUser("mallory@example.com", false)
	const referer = "https://victim-app.example"
	c := e.code(s256Body(), "HTTP-Referer", referer, "X-OpenRouter-Title", "Victim App")
	r := e.do("POST", "/api/v1/auth/keys/code", s256Body(), "Authorization", "Bearer "+otherKey, "HTTP-Referer", referer, "X-OpenRouter-Title", "Evil Corp - call +1 555 0100")
	if r.status != http.StatusOK {
		t.Fatalf("other user's code: %d %s", r.status, r.body)
	}
	appID := int64(r.json(t)["data"].(map[string]any)["app_id"].(float64))
	key := e.exchange(map[string]any{"code": c, "code_verifier": V1}).json(t)["key"].(string)
	if d := e.do("GET", "/api/v1/key", nil, "Authorization", "Bearer "+key).json(t)["data"].(map[string]any); d["label"] != "Victim App" {
		t.Errorf("label = %v, want the title of the request that made the code", d["label"])
	}
	e.code(s256Body(), "HTTP-Referer", referer) // no title
	app, err := e.store.App(context.Background(), appID)
	if err != nil || app.Title != "Evil Corp - call +1 555 0100" {
		t.Errorf("stored title after a request without one = %+v %v, want it unchanged", app, err)
	}
	e.code(s256Body("callback_url", "https://fresh.example/cb"))
	r = e.do("POST", "/api/v1/auth/keys/code", s256Body("callback_url", "https://fresh.example/cb"), "Authorization", "Bearer "+e.userKey)
	app, _ = e.store.App(context.Background(), int64(r.json(t)["data"].(map[string]any)["app_id"].(float64)))
	if app.Title != "fresh.example" {
		t.Errorf("a new app without a title is titled %q, want its host", app.Title)
	}
}
