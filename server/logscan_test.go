package server_test

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/pkce"
	"github.com/keygate/keygate/server"
)

// secretScan runs flows against a keygate that logs at debug level,
// remembering every secret the flows handle and every error answer.
type secretScan struct {
	*env
	secrets map[string]string // value -> what it is
	errors  []*response       // every answer with status >= 400
}

func (s *secretScan) secret(what, v string) string {
	if v != "" {
		s.secrets[v] = what
	}
	return v
}

// keep records r when it is an error answer.
func (s *secretScan) keep(r *response) *response {
	if r.status >= 400 {
		s.errors = append(s.errors, r)
	}
	return r
}

func (s *secretScan) api(method, path string, body any, headers ...string) *response {
	s.t.Helper()
	return s.keep(s.do(method, path, body, headers...))
}

func (s *secretScan) page(method, path string, form url.Values, cookies ...string) *response {
	s.t.Helper()
	return s.keep(s.browse(method, path, form, cookies))
}

func (s *secretScan) wantStatus(r *response, status int, what string) *response {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("%s: status %d, want %d; body %.300s", what, r.status, status, r.body)
	}
	return r
}

// newCode asks for a code with the user's key and a fresh verifier.
func (s *secretScan) newCode(method pkce.Method) (code, verifier string) {
	s.t.Helper()
	body := map[string]any{"callback_url": cbLocal}
	if method != "" {
		verifier = s.secret("verifier", pkce.NewVerifier())
		ch, _ := pkce.Challenge(method, verifier)
		body["code_challenge"], body["code_challenge_method"] = ch, string(method)
	}
	r := s.wantStatus(s.api("POST", "/api/v1/auth/keys/code", body, "Authorization", "Bearer "+s.userKey), 200, "code request")
	return s.secret("code", r.json(s.t)["data"].(map[string]any)["id"].(string)), verifier
}

func (s *secretScan) exchangeOK(code, verifier string) string {
	s.t.Helper()
	body := map[string]any{"code": code}
	if verifier != "" {
		body["code_verifier"] = verifier
	}
	r := s.wantStatus(s.api("POST", "/api/v1/auth/keys", body), 200, "exchange")
	return s.secret("minted key", r.json(s.t)["key"].(string))
}

// TestNoSecretInLogs runs every flow with debug logging on (the API code
// flow and exchange, replays, an expired code, the browser sign-in,
// consent, approve, deny, headless and logout, failed sign-ins, the
// management and workspace API, wrong and malformed credentials, bodies
// carrying secrets in bad JSON, rate-limited requests), then scans the
// whole log and every error answer for each key, code, verifier, password
// and session token used: none may appear.
func TestNoSecretInLogs(t *testing.T) {
	s := &secretScan{env: newEnv(t), secrets: map[string]string{}}
	s.secret("user key", s.userKey)
	s.secret("management key", s.mgmtKey)
	s.secret("password", testPassword)
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	t.Run("api-flow", func(t *testing.T) {
		for _, m := range []pkce.Method{pkce.S256, pkce.Plain, ""} {
			code, verifier := s.newCode(m)
			key := s.exchangeOK(code, verifier)
			s.wantStatus(s.api("GET", "/api/v1/key", nil, bearer(key)...), 200, "GET /key")
		}
	})
	t.Run("replay", func(t *testing.T) {
		code, verifier := s.newCode(pkce.S256)
		s.exchangeOK(code, verifier)
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": s.secret("verifier", pkce.NewVerifier())}), 403, "wrong-verifier replay")
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": verifier}), 403, "replay")
		code2, _ := s.newCode("")
		s.exchangeOK(code2, "")
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code2}), 403, "replay without PKCE")
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code2, "code_verifier": verifier}), 400, "downgrade")
	})
	t.Run("expired-and-mismatched", func(t *testing.T) {
		code, verifier := s.newCode(pkce.S256)
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": verifier, "code_challenge_method": "plain"}), 400, "method mismatch")
		s.clock.Advance(s.svc.Config().CodeTTL + 1)
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": verifier}), 403, "expired")
		s.clock.Advance(-s.svc.Config().CodeTTL - 1)
		s.wantStatus(s.api("POST", "/api/v1/auth/keys", map[string]any{"code": s.secret("made-up code", keygate.NewCode()), "code_verifier": verifier}), 403, "unknown code")
	})
	t.Run("browser", func(t *testing.T) {
		v := s.secret("verifier", pkce.NewVerifier())
		query := authQuery("callback_url", cbLocal, "code_challenge", pkce.ChallengeS256(v), "code_challenge_method", "S256", "state", "st")
		page := s.wantStatus(s.page("GET", "/auth?"+query, nil), 200, "/auth signed out")
		loginToken := page.cookie("keygate_login").Value
		loginCookie := "keygate_login=" + loginToken
		form := url.Values{"email": {"alice@example.com"}, "password": {"wrong password guess"}, "form_token": {loginToken}, "return_to": {"/auth?" + query}}
		s.secret("wrong password", "wrong password guess")
		s.wantStatus(s.page("POST", "/login", form, loginCookie), 401, "wrong password")
		form.Set("email", "nobody@example.com")
		s.wantStatus(s.page("POST", "/login", form, loginCookie), 401, "unknown email")
		form.Set("email", "alice@example.com")
		form.Set("password", testPassword)
		form.Set("form_token", "forged")
		s.wantStatus(s.page("POST", "/login", form, loginCookie), 403, "forged form token")
		form.Set("form_token", loginToken)
		r := s.wantStatus(s.page("POST", "/login", form, loginCookie), 303, "sign in")
		session := "keygate_session=" + s.secret("session token", r.cookie("keygate_session").Value)
		consent := s.wantStatus(s.page("GET", "/auth?"+query, nil, session), 200, "consent")
		csrf := extractFormToken(t, consent.body)
		for _, decision := range []string{"approve", "deny"} {
			r := s.wantStatus(s.page("POST", "/auth?"+query, url.Values{"decision": {decision}, "form_token": {csrf}}, session), 302, decision)
			loc, _ := url.Parse(r.header.Get("Location"))
			if code := loc.Query().Get("code"); code != "" {
				s.secret("code", code)
				s.exchangeOK(code, v)
			}
		}
		s.wantStatus(s.page("POST", "/auth?"+query, url.Values{"decision": {"approve"}, "form_token": {"forged"}}, session), 403, "forged consent")
		headless := authQuery("code_challenge", pkce.ChallengeS256(v), "code_challenge_method", "S256")
		r = s.wantStatus(s.page("POST", "/auth?"+headless, url.Values{"decision": {"approve"}, "form_token": {csrf}}, session), 200, "headless approve")
		if code := extractCode(r.body); code != "" {
			s.secret("headless code", code)
		}
		s.wantStatus(s.page("POST", "/logout", url.Values{"form_token": {csrf}}, session), 303, "logout")
		s.wantStatus(s.page("POST", "/auth?"+query, url.Values{"decision": {"approve"}, "form_token": {csrf}}, session), 200, "approve after logout")
	})
	t.Run("management", func(t *testing.T) {
		r := s.wantStatus(s.api("POST", "/api/v1/keys", map[string]any{"name": "scan", "limit": 5}, bearer(s.mgmtKey)...), 201, "create key")
		key := s.secret("created key", r.json(t)["key"].(string))
		hash := keygate.HashSecret(key)
		s.wantStatus(s.api("PATCH", "/api/v1/keys/"+hash, map[string]any{"name": "renamed", "disabled": true}, bearer(s.mgmtKey)...), 200, "disable")
		s.wantStatus(s.api("GET", "/api/v1/key", nil, bearer(key)...), 401, "disabled key")
		s.wantStatus(s.api("PATCH", "/api/v1/keys/"+hash, map[string]any{"disabled": false}, bearer(s.mgmtKey)...), 200, "enable")
		s.wantStatus(s.api("GET", "/api/v1/keys", nil, bearer(s.mgmtKey)...), 200, "list")
		s.wantStatus(s.api("GET", "/api/v1/keys", nil, bearer(key)...), 403, "list with an ordinary key")
		s.wantStatus(s.api("GET", "/api/v1/keys/"+key, nil, bearer(s.mgmtKey)...), 404, "the key in place of its hash")
		s.wantStatus(s.api("DELETE", "/api/v1/keys/"+hash, nil, bearer(s.mgmtKey)...), 200, "delete")
		s.wantStatus(s.api("GET", "/api/v1/key", nil, bearer(key)...), 401, "deleted key")
		ws := s.wantStatus(s.api("POST", "/api/v1/workspaces", map[string]any{"name": "Scan"}, bearer(s.mgmtKey)...), 201, "create workspace").json(t)["data"].(map[string]any)["id"].(string)
		s.wantStatus(s.api("PATCH", "/api/v1/workspaces/"+ws, map[string]any{"description": s.userKey}, bearer(s.mgmtKey)...), 200, "patch workspace")
		s.wantStatus(s.api("DELETE", "/api/v1/workspaces/"+ws, nil, bearer(s.mgmtKey)...), 200, "delete workspace")
	})
	t.Run("wrong-credentials", func(t *testing.T) {
		for _, auth := range []string{
			"Bearer " + s.userKey + "x", "Bearer " + strings.ToUpper(s.userKey), "bearer  " + s.userKey[:len(s.userKey)-1],
			"Bearer " + s.secret("guessed key", keygate.NewKey(keygate.DefaultKeyPrefix)), "Basic " + s.userKey, s.userKey,
			"Token " + s.mgmtKey,
		} {
			s.api("GET", "/api/v1/key", nil, "Authorization", auth)
			s.api("POST", "/api/v1/auth/keys/code", map[string]any{"callback_url": cbLocal}, "Authorization", auth)
			s.api("GET", "/api/v1/keys", nil, "Authorization", auth)
		}
	})
	t.Run("secrets-in-bad-bodies", func(t *testing.T) {
		code, verifier := s.newCode(pkce.S256)
		for _, body := range []string{
			`{"code":"` + code + `","code_verifier":"` + verifier, // truncated
			`{"code":"` + code + `","code":"` + s.userKey + `"}`,
			`{"code":["` + code + `"],"code_verifier":"` + verifier + `"}`,
			`{"code":"` + code + `","code_verifier":{"v":"` + verifier + `"}}`,
			`{"code":"` + code + `","code_challenge_method":"` + verifier + `"}`,
			`["` + s.userKey + `"]`, s.userKey, `{"` + s.userKey + `":1,"code":5}`,
		} {
			s.api("POST", "/api/v1/auth/keys", body, "Content-Type", "application/json")
			s.api("POST", "/api/v1/auth/keys", body, "Content-Type", "text/"+s.userKey)
			s.api("POST", "/api/v1/auth/keys/code", body, "Authorization", "Bearer "+s.userKey, "Content-Type", "application/json")
			s.api("POST", "/api/v1/keys", body, "Authorization", "Bearer "+s.mgmtKey)
		}
		for _, cb := range []string{"https://" + s.userKey + "@app.example.com/cb", "javascript:" + code, "http://evil.example/?k=" + s.mgmtKey + "#" + verifier} {
			r := s.api("POST", "/api/v1/auth/keys/code", map[string]any{"callback_url": cb}, "Authorization", "Bearer "+s.userKey)
			s.wantStatus(r, 400, "hostile callback")
			s.page("GET", "/auth?"+authQuery("callback_url", cb), nil)
		}
		s.api("POST", "/api/v1/auth/keys", "code="+code+"&code="+verifier, "Content-Type", "application/x-www-form-urlencoded")
		s.api("POST", "/api/v1/keys", map[string]any{"name": s.userKey + strings.Repeat("x", 100)}, "Authorization", "Bearer "+s.mgmtKey)
		s.api("GET", "/api/v1/keys?workspace_id="+s.userKey+"&offset="+code, nil, "Authorization", "Bearer "+s.mgmtKey)
		s.api("GET", "/api/v1/keys?include_disabled="+verifier, nil, "Authorization", "Bearer "+s.mgmtKey)
	})
	t.Run("rate-limited", func(t *testing.T) {
		s.reserve(server.Config{RateLimit: 0.1}) // burst 1
		code, verifier := s.newCode(pkce.S256)
		limited := 0
		for range 3 {
			r := s.api("POST", "/api/v1/auth/keys", map[string]any{"code": code, "code_verifier": verifier})
			if r.status == 429 {
				limited++
			}
		}
		if limited == 0 {
			t.Fatalf("no request was rate-limited")
		}
		s.page("POST", "/login", url.Values{"email": {"alice@example.com"}, "password": {testPassword}})
		s.page("POST", "/login", url.Values{"email": {"alice@example.com"}, "password": {testPassword}})
	})

	logs := s.logs.Bytes()
	if !bytes.Contains(logs, []byte("level=DEBUG")) || !bytes.Contains(logs, []byte(keygate.AuditReplayDetected)) {
		t.Fatalf("the log holds no debug or audit lines: the scan would prove nothing")
	}
	if !bytes.Contains(logs, []byte(`route="GET /api/v1/keys/{hash}"`)) {
		t.Errorf("rejected requests are not logged with their route pattern")
	}
	t.Logf("scanned %d bytes of log and %d error answers for %d secrets", len(logs), len(s.errors), len(s.secrets))
	for v, what := range s.secrets {
		if i := bytes.Index(logs, []byte(v)); i >= 0 {
			line := logs[bytes.LastIndexByte(logs[:i], '\n')+1:]
			line, _, _ = bytes.Cut(line, []byte("\n"))
			t.Errorf("the log contains a %s: %s", what, bytes.ReplaceAll(line, []byte(v), []byte("<"+what+">")))
		}
		for _, r := range s.errors {
			if bytes.Contains(r.body, []byte(v)) || strings.Contains(fmt.Sprint(r.header), v) {
				t.Errorf("a %d answer contains a %s: %.200s", r.status, what, r.body)
			}
		}
	}
}

// extractFormToken returns the value of the first form_token input.
func extractFormToken(t *testing.T, page []byte) string {
	t.Helper()
	_, rest, ok := bytes.Cut(page, []byte(`name="form_token" value="`))
	if !ok {
		t.Fatalf("no form_token in the page: %.500s", page)
	}
	v, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(v)
}

// extractCode returns the code shown on the headless code page, or "".
func extractCode(page []byte) string {
	for _, marker := range []string{`id="code"`, `class="code"`} {
		_, rest, ok := bytes.Cut(page, []byte(marker))
		if !ok {
			continue
		}
		_, rest, ok = bytes.Cut(rest, []byte(">"))
		if !ok {
			continue
		}
		v, _, _ := bytes.Cut(rest, []byte("<"))
		return strings.TrimSpace(string(v))
	}
	return ""
}
