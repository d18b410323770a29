package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keygate/keygate"
)

// policyRoutes are the budget and guardrail routes FuzzPolicyRequest
// drives; {ws} becomes the spare workspace, {g} a guardrail of the user,
// {arg} the fuzzed path segment.
var policyRoutes = []struct {
	method, path string
	query        bool // the fuzzed input is the query string, not the body
}{
	{"PUT", "/api/v1/workspaces/{ws}/budgets/monthly", false},
	{"POST", "/api/v1/guardrails", false},
	{"PATCH", "/api/v1/guardrails/{g}", false},
	{"POST", "/api/v1/guardrails/{g}/assignments/keys", false},
	{"POST", "/api/v1/guardrails/{g}/assignments/keys/remove", false},
	{"GET", "/api/v1/guardrails", true},
	{"GET", "/api/v1/guardrails/{g}/assignments/keys", true},
	{"GET", "/api/v1/workspaces/{ws}/budgets/{arg}", false},
	{"GET", "/api/v1/guardrails/{arg}", false},
}

// FuzzPolicyRequest: the workspace budget and guardrail API with any body,
// query or path segment, authenticated with a management key: no panic,
// no 5xx, every error in the JSON error shape.
func FuzzPolicyRequest(f *testing.F) {
	for i, seeds := range [][]string{
		{`{"limit_usd":500}`, `{"limit_usd":0,"include_byok_in_budgets":true}`, `{"limit_usd":-1}`, `{"limit_usd":1e309}`, `{"limit_usd":null}`, `{}`},
		{`{"name":"g","allowed_models":["a/b"],"limit_usd":5,"reset_interval":"daily"}`, `{"name":"g","allowed_data_regions":["eu"]}`,
			`{"name":"g","content_filters":[{"action":"block","pattern":"x"}],"content_filter_builtins":[{"action":"redact","slug":"email"}]}`,
			`{"name":"g","workspace_id":"3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f"}`, `{"name":"g","enforce_zdr":"x"}`},
		{`{"allowed_models":null,"limit_usd":null}`, `{"name":null}`, `{"reset_interval":"lifetime"}`, `{"ignored_providers":[""]}`},
		{`{"key_hashes":["{{hash}}"]}`, `{"key_hashes":[]}`, `{"key_hashes":"x"}`, `{"key_hashes":[1]}`},
		{`{"key_hashes":["{{hash}}","{{hash}}"]}`, `{"key_hashes":["` + strings.Repeat("0", 64) + `"]}`},
		{`offset=0&limit=100`, `limit=0`, `limit=101`, `offset=-1`, `workspace_id=x`, `workspace_id=%zz`},
		{`offset=1&limit=1`, `limit=x`},
		{`daily`, `lifetime`, `Daily`, `..`, `%2F`},
		{`nope`, `3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f`, `assignments`},
	} {
		for _, s := range seeds {
			f.Add(uint8(i), s)
		}
	}
	e := newFuzzEnv(f)
	name := "fuzz"
	g, err := e.svc.CreateGuardrail(context.Background(), e.userID, nil, keygate.GuardrailParams{Name: &name})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, route uint8, input string) {
		rt := policyRoutes[int(route)%len(policyRoutes)]
		path := strings.NewReplacer("{ws}", e.spareWS, "{g}", g.ID).Replace(rt.path)
		input = strings.ReplaceAll(input, "{{hash}}", e.spareHash)
		var r *http.Request
		switch {
		case strings.Contains(path, "{arg}"):
			r = newRequest(rt.method, strings.Replace(path, "{arg}", "x", 1), "", "")
			r.URL.RawPath = ""
			r.URL.Path = strings.Replace(path, "{arg}", input, 1)
		case rt.query:
			r = newRequest(rt.method, path, "", "")
			r.URL.RawQuery = input
		default:
			r = newRequest(rt.method, path, input, "application/json")
		}
		r.Header.Set("Authorization", "Bearer "+e.mgmtKey)
		e.serve(t, r)
	})
}
