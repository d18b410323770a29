package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/idtoken/idptest"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/sqlite"
)

// FuzzOAuthTokenBody: POST /api/v1/oauth/token with any body and content
// type, {{SUBJECT}} standing for a fresh token the policy admits and
// {{POLICY}} for the policy's id. Whatever the input: no 5xx, every error
// in the RFC 6749 §5.2 shape, and a 200 only for a body that carried the
// admitted token.
func FuzzOAuthTokenBody(f *testing.F) {
	form := "application/x-www-form-urlencoded"
	for _, s := range []struct{ body, ct string }{
		{"grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={{SUBJECT}}&subject_token_type=urn:ietf:params:oauth:token-type:jwt&federation_policy_id={{POLICY}}", form},
		{"grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={{SUBJECT}}&subject_token_type=urn:ietf:params:oauth:token-type:jwt&federation_policy_id={{POLICY}}&scope=inference&requested_token_type=urn:ietf:params:oauth:token-type:access_token", form},
		{`{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"{{SUBJECT}}","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","federation_policy_id":"{{POLICY}}"}`, "application/json"},
		{"grant_type=password&username=a&password=b", form},
		{"grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=eyJhbGciOiJub25lIn0.e30.&subject_token_type=urn:ietf:params:oauth:token-type:jwt&federation_policy_id={{POLICY}}", form},
		{"subject_token=%zz", form}, {"a=1&a=2", form}, {"", form}, {"<x/>", "application/xml"}, {`{"grant_type":5}`, "application/json"},
	} {
		f.Add(s.body, s.ct)
	}
	idp := idptest.NewES256(f)
	var db keygate.Store
	if testEngine == "postgres" {
		db = pgtest.Open(f)
	} else {
		lite, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "keygate.db"))
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { lite.Close() })
		db = lite
	}
	log := slog.New(slog.DiscardHandler)
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(log),
		keygate.WithPasswordHasher(testHasher), keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	h := server.New(svc, server.Config{PublicURL: "http://keygate.test"}, log)
	u, err := svc.CreateUser(f.Context(), "ci@example.com", "correct horse battery staple")
	if err != nil {
		f.Fatal(err)
	}
	pol, err := svc.CreateFederationPolicy(f.Context(), keygate.NewFederationPolicyParams{UserID: u.ID, Issuer: idp.URL,
		Audience: "keygate", Subject: "repo:octo-org/*"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		admitted := strings.Contains(body, "{{SUBJECT}}")
		body = strings.ReplaceAll(body, "{{POLICY}}", pol.ID)
		if admitted {
			tok := idp.Sign(idptest.GitHubActions(idp.URL, "keygate", "octo-org/app", "refs/heads/main", time.Now()))
			body = strings.ReplaceAll(body, "{{SUBJECT}}", tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest("POST", "/api/v1/oauth/token", body, contentType))
		if w.Code >= 500 {
			t.Fatalf("status %d, body %s", w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			if !admitted {
				t.Fatalf("200 for a body without an admitted token: %q", body)
			}
			return
		}
		var e map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e) != 2 {
			t.Fatalf("status %d: body %q is not the RFC 6749 error shape", w.Code, w.Body)
		}
		if code, _ := e["error"].(string); code == "" {
			t.Fatalf("status %d: body %q has no error code", w.Code, w.Body)
		}
		if desc, _ := e["error_description"].(string); desc == "" || strings.Contains(desc, "eyJ") {
			t.Fatalf("status %d: error_description %q", w.Code, desc)
		}
	})
}

// FuzzFederationPolicyBody: POST /api/v1/federation/policies with any
// body, then GET of what it made: no 5xx, every error in keygate's shape,
// and a created policy that reads back.
func FuzzFederationPolicyBody(f *testing.F) {
	for _, b := range []string{
		`{"issuer":"https://token.actions.githubusercontent.com","audience":"keygate","subject":"repo:octo-org/*","claims":{"ref":"refs/heads/main"},"token_ttl":900,"limit":5,"limit_reset":"daily"}`,
		`{"issuer":"http://127.0.0.1:9/","audience":"a","claims":{"kubernetes.io/namespace":"prod"}}`,
		`{"issuer":"https://x.example","audience":"a"}`, `{"issuer":"javascript:alert(1)","audience":"a","subject":"x"}`,
		`{"issuer":"https://x.example","audience":"a","subject":"x","token_ttl":1e309}`, `{"claims":[]}`, `{"claims":{"aud":"x"}}`,
		`{"issuer":"https://x.example","audience":"a","subject":"x","workspace_id":"not-a-uuid"}`, `{`, `null`, `[]`,
	} {
		f.Add(b)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := newRequest("POST", "/api/v1/federation/policies", body, "application/json")
		r.Header.Set("Authorization", "Bearer "+e.mgmtKey)
		w := e.serve(t, r)
		if w.Code != http.StatusCreated {
			return
		}
		var created struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Data.ID == "" {
			t.Fatalf("201 body %s: no id", w.Body)
		}
		g := newRequest("GET", "/api/v1/federation/policies/"+created.Data.ID, "", "")
		g.Header.Set("Authorization", "Bearer "+e.mgmtKey)
		if w := e.serve(t, g); w.Code != http.StatusOK {
			t.Fatalf("GET the created policy = %d %s", w.Code, w.Body)
		}
	})
}
