package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// hostileCase is one row of testdata/hostile.json: a request that a client
// could send to any endpoint, and what keygate must answer. Placeholders
// ({{USER_KEY}}, {{CODE}}, …, see hostileEnv.value) are replaced in the
// path, headers, body, form and raw request before it is sent.
type hostileCase struct {
	Name string `json:"name"`
	// Ref names the source of the case: an edge case (HB-nn) or "issue"
	// for the hardening list every endpoint is held to.
	Ref    string `json:"ref"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// Auth adds a credential: "user" or "mgmt" (a bearer key), "session"
	// (a signed-in browser's cookie); empty or "none" adds nothing.
	Auth    string            `json:"auth"`
	Headers map[string]string `json:"headers"`
	// The body is one of: JSON (sent byte for byte as written in the file,
	// duplicate names and out-of-range numbers included), Body (a string),
	// Form (url-encoded) or Repeat (Prefix, Count copies of Fill, Suffix).
	JSON   json.RawMessage   `json:"json"`
	Body   *string           `json:"body"`
	Form   map[string]string `json:"form"`
	Repeat *struct {
		Prefix string `json:"prefix"`
		Fill   string `json:"fill"`
		Count  int    `json:"count"`
		Suffix string `json:"suffix"`
	} `json:"repeat"`
	// ContentType overrides the type the body kind implies.
	ContentType *string `json:"content_type"`
	// Raw is a whole HTTP/1.1 request written to the connection as is,
	// for header bytes that no client library would send.
	Raw string `json:"raw"`
	// Status is the expected status; Word must appear in the error message
	// (or, for pages, in the page).
	Status int    `json:"status"`
	Word   string `json:"word"`
	// Kind is how the answer is checked: "json" (the default under /api/:
	// the error shape {"error":{"code","message"}}), "page" (an HTML page
	// with the anti-framing headers, the default elsewhere) or "stdlib" (a
	// plain answer of net/http itself, for a header line it rejects before
	// any handler runs).
	Kind string `json:"kind"`
}

func loadHostileCases(t *testing.T) []hostileCase {
	t.Helper()
	b, err := os.ReadFile("testdata/hostile.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []hostileCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("testdata/hostile.json: %v", err)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if c.Name == "" || strings.ContainsAny(c.Name, " \t") || seen[c.Name] {
			t.Fatalf("testdata/hostile.json: case name %q is empty, has spaces or is repeated", c.Name)
		}
		seen[c.Name] = true
	}
	return cases
}

// hostileEnv is a fresh keygate for one row, with the placeholders' values
// made on first use.
type hostileEnv struct {
	*env
	values  map[string]string
	secrets []string // values that no answer may contain
}

// value returns the value of placeholder name, creating what it names.
func (h *hostileEnv) value(name string) string {
	t := h.t
	t.Helper()
	if v, ok := h.values[name]; ok {
		return v
	}
	ctx := context.Background()
	newCode := func(body map[string]any) string {
		c := h.code(body)
		h.secrets = append(h.secrets, c)
		return c
	}
	var v string
	switch name {
	case "USER_KEY":
		v = h.userKey
	case "MGMT_KEY":
		v = h.mgmtKey
	case "KEY_HASH":
		v = keygate.HashSecret(h.userKey)
	case "DEFAULT_WS", "DEFAULT_WS_SLUG":
		ws, err := h.store.DefaultWorkspace(ctx, h.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		h.values["DEFAULT_WS"], h.values["DEFAULT_WS_SLUG"] = ws.ID, ws.Slug
		return h.values[name]
	case "OTHER_WS":
		other, _ := h.newUser("mallory@example.com", false)
		ws, err := h.store.DefaultWorkspace(ctx, other.ID)
		if err != nil {
			t.Fatal(err)
		}
		v = ws.ID
	case "WS", "WS_WITH_KEY":
		ws, err := h.svc.CreateWorkspace(ctx, keygate.NewWorkspaceParams{UserID: h.user.ID, Name: "Spare " + name})
		if err != nil {
			t.Fatal(err)
		}
		if name == "WS_WITH_KEY" {
			if _, _, err := h.svc.CreateKey(ctx, keygate.NewKeyParams{UserID: h.user.ID, WorkspaceID: &ws.ID, Name: "in it"}); err != nil {
				t.Fatal(err)
			}
		}
		v = ws.ID
	case "CODE":
		v = newCode(s256Body())
	case "CODE_NOPKCE":
		v = newCode(map[string]any{"callback_url": cbLocal})
	case "USED_CODE":
		v = newCode(s256Body())
		if r := h.exchange(map[string]any{"code": v, "code_verifier": V1}); r.status != 200 {
			t.Fatalf("setting up a used code: %d %s", r.status, r.body)
		}
	case "EXPIRED_CODE":
		v = newCode(s256Body())
		h.clock.Advance(h.svc.Config().CodeTTL + time.Second)
	case "SESSION", "CSRF":
		token, err := h.svc.Login(ctx, "alice@example.com", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		_, sess, err := h.svc.SessionUser(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		h.values["SESSION"], h.values["CSRF"] = token, sess.CSRFToken
		h.secrets = append(h.secrets, token)
		return h.values[name]
	case "GUARDRAIL":
		name := "hostile"
		g, err := h.svc.CreateGuardrail(ctx, h.user.ID, nil, keygate.GuardrailParams{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		v = g.ID
	case "LOGIN_TOKEN":
		v = keygate.NewToken()
	default:
		t.Fatalf("unknown placeholder {{%s}}", name)
	}
	h.values[name] = v
	return v
}

// fill replaces every {{NAME}} in s.
func (h *hostileEnv) fill(s string) string {
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return s
		}
		s = s[:i] + h.value(s[i+2:i+j]) + s[i+j+2:]
	}
}

// send sends the row's request and returns the answer.
func (h *hostileEnv) send(c *hostileCase) *response {
	t := h.t
	t.Helper()
	if c.Raw != "" {
		return h.sendRaw(h.fill(c.Raw))
	}
	var body []byte
	ctype := ""
	switch {
	case c.JSON != nil:
		body, ctype = []byte(h.fill(string(c.JSON))), "application/json"
	case c.Body != nil:
		body, ctype = []byte(h.fill(*c.Body)), "application/json"
	case c.Form != nil:
		var parts []string
		for k, v := range c.Form {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(h.fill(v)))
		}
		body, ctype = []byte(strings.Join(parts, "&")), "application/x-www-form-urlencoded"
	case c.Repeat != nil:
		var b bytes.Buffer
		b.WriteString(h.fill(c.Repeat.Prefix))
		b.WriteString(strings.Repeat(c.Repeat.Fill, c.Repeat.Count))
		b.WriteString(h.fill(c.Repeat.Suffix))
		body, ctype = b.Bytes(), "application/json"
	}
	if c.ContentType != nil {
		ctype = *c.ContentType
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(c.Method, h.srv.URL+h.fill(c.Path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	var cookies []string
	switch c.Auth {
	case "user":
		req.Header.Set("Authorization", "Bearer "+h.userKey)
	case "mgmt":
		req.Header.Set("Authorization", "Bearer "+h.mgmtKey)
	case "session":
		cookies = append(cookies, "keygate_session="+h.value("SESSION"))
	case "", "none":
	default:
		t.Fatalf("auth %q: want user, mgmt, session or none", c.Auth)
	}
	for k, v := range c.Headers {
		if strings.EqualFold(k, "Cookie") {
			cookies = append(cookies, h.fill(v))
			continue
		}
		req.Header.Set(k, h.fill(v))
	}
	if len(cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// sendRaw writes raw to a new connection and reads one response.
func (e *env) sendRaw(raw string) *response {
	t := e.t
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

// auditActions returns how many audit events of each action exist.
func (h *hostileEnv) auditActions() map[string]int {
	events, err := h.store.ListAudit(context.Background(), 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range events {
		n[ev.Action]++
	}
	return n
}

// TestHostileInput runs every row of testdata/hostile.json against a fresh
// keygate on a real store. Besides the row's own status and word, every
// answer obeys the common rules: never a 5xx; API errors in the JSON error
// shape with code equal to the status; pages with the anti-framing
// headers; a refused request changes nothing (no audit event but a failed
// login or a detected replay); no answer contains a key, code, session or
// password it was not asked to show.
func TestHostileInput(t *testing.T) {
	for _, c := range loadHostileCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			h := &hostileEnv{env: newEnv(t), values: map[string]string{}}
			h.secrets = append(h.secrets, h.userKey, h.mgmtKey, testPassword, V1)
			// Placeholders are made before the baseline so that their own
			// setup is not taken for the request's side effect.
			h.fill(c.Raw + c.Path + string(c.JSON) + strPtr(c.Body) + mapText(c.Form) + mapText(c.Headers) + repeatText(&c))
			if c.Auth == "session" {
				h.value("SESSION")
			}
			before := h.auditActions()
			r := h.send(&c)
			if r.status >= 500 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if r.status != c.Status {
				t.Fatalf("status %d, want %d; body %.300s", r.status, c.Status, r.body)
			}
			kind := c.Kind
			if kind == "" {
				kind = "page"
				if strings.HasPrefix(c.Path, "/api/") {
					kind = "json"
				}
			}
			word := strings.ToLower(c.Word)
			switch kind {
			case "json":
				if r.status >= 400 {
					if msg := r.errMessage(t); !strings.Contains(strings.ToLower(msg), word) {
						t.Errorf("message %q does not contain %q", msg, c.Word)
					}
				} else if !json.Valid(r.body) {
					t.Errorf("%d body is not JSON: %.300s", r.status, r.body)
				}
			case "page":
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want an HTML page", ct)
				}
				if !strings.Contains(strings.ToLower(html.UnescapeString(string(r.body))), word) {
					t.Errorf("page does not contain %q: %.500s", c.Word, r.body)
				}
				if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
					t.Errorf("page without the anti-framing headers: %v", r.header)
				}
			case "stdlib":
				if !strings.Contains(strings.ToLower(string(r.body)), word) {
					t.Errorf("body %q does not contain %q", r.body, c.Word)
				}
			default:
				t.Fatalf("kind %q: want json, page or stdlib", c.Kind)
			}
			if r.status >= 400 {
				after := h.auditActions()
				for action, n := range after {
					if n > before[action] && action != keygate.AuditLoginFailed && action != keygate.AuditReplayDetected {
						t.Errorf("a refused request was audited as %s: it changed something", action)
					}
				}
			}
			for _, s := range h.secrets {
				if bytes.Contains(r.body, []byte(s)) {
					t.Errorf("the answer contains a secret of the setup (%.12s…)", s)
				}
			}
		})
	}
}

func strPtr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func mapText(m map[string]string) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + v)
	}
	return b.String()
}

func repeatText(c *hostileCase) string {
	if c.Repeat == nil {
		return ""
	}
	return c.Repeat.Prefix + c.Repeat.Suffix
}
