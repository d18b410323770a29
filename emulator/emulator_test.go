package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/emulator"
	"github.com/keygate/keygate/keygatetest"
)

// call sends a request with header name-value pairs and returns the
// status and the body; redirects are not followed.
func call(t *testing.T, method, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

const authQuery = "/auth?callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb%3Fkeep%3D1&state=st&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"

// TestApproveModes: GET /auth answers by the mode, standing or for the
// next requests only, through the service's code path (a code that
// exchanges with the verifier of its challenge).
func TestApproveModes(t *testing.T) {
	tests := []struct {
		name    string
		start   emulator.Mode
		control string // POST /emulator/approve body; "" sends none
		want    []string
	}{
		{"auto", emulator.ModeAuto, "", []string{"code", "code"}},
		{"deny", emulator.ModeDeny, "", []string{"error", "error"}},
		{"ask", emulator.ModeAsk, "", []string{"page", "page"}},
		{"deny-next-one", emulator.ModeAuto, `{"mode":"deny","next":1}`, []string{"error", "code"}},
		{"ask-from-now", emulator.ModeAuto, `{"mode":"ask"}`, []string{"page", "page"}},
		{"auto-next-two", emulator.ModeDeny, `{"mode":"auto","next":2}`, []string{"code", "code", "error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := keygatetest.New(t, keygatetest.WithApprove(tt.start))
			if tt.control != "" {
				if res, body := call(t, "POST", srv.URL+"/emulator/approve", tt.control); res.StatusCode != 200 {
					t.Fatalf("POST /emulator/approve = %d %s", res.StatusCode, body)
				}
			}
			for i, want := range tt.want {
				res, body := call(t, "GET", srv.URL+authQuery, "")
				loc, _ := url.Parse(res.Header.Get("Location"))
				got := "page"
				switch {
				case res.StatusCode == 302 && loc.Query().Get("code") != "":
					got = "code"
				case res.StatusCode == 302 && loc.Query().Get("error") == "access_denied":
					got = "error"
				case res.StatusCode != 200 || !strings.Contains(body, "password"):
					got = res.Status
				}
				if got != want {
					t.Fatalf("GET /auth #%d = %s, want %s", i+1, got, want)
				}
				if res.StatusCode == 302 && (loc.Query().Get("keep") != "1" || loc.Query().Get("state") != "st") {
					t.Errorf("Location %s lost the callback's query or the state", loc)
				}
				if got != "code" {
					continue
				}
				res, body = call(t, "POST", srv.URL+"/api/v1/auth/keys",
					`{"code":"`+loc.Query().Get("code")+`","code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}`)
				if res.StatusCode != 200 || !strings.Contains(body, `"key":"sk-or-v1-`) {
					t.Errorf("exchange = %d %s", res.StatusCode, body)
				}
			}
		})
	}
}

// TestControlAPIErrors: bad control requests are 4xx naming the member.
func TestControlAPIErrors(t *testing.T) {
	srv := keygatetest.New(t)
	tests := []struct {
		method, path, body string
		status             int
		message            string
	}{
		{"POST", "/emulator/clock", `{"advance":"-1h"}`, 400, "advance must not be negative"},
		{"POST", "/emulator/clock", `{"advance":"tomorrow"}`, 400, `advance "tomorrow"`},
		{"POST", "/emulator/clock", `{}`, 400, "advance is required"},
		{"POST", "/emulator/clock", `{"advance":"1h","by":2}`, 400, `unknown member "by"`},
		{"POST", "/emulator/clock", `[`, 400, "not JSON"},
		{"POST", "/emulator/approve", `{"mode":"maybe"}`, 400, "mode must be auto, deny or ask"},
		{"POST", "/emulator/approve", `{"mode":"auto","next":-1}`, 400, "next must be"},
		{"POST", "/emulator/approve", `{"mode":"auto","email":"nobody@example.com"}`, 404, ""},
		{"POST", "/emulator/keys", `{"limit":"ten"}`, 400, "limit must be a number"},
		{"POST", "/emulator/keys", `{"management":1}`, 400, "management must be true or false"},
		{"POST", "/emulator/clock", `{"advance":1e300}`, 400, "advance: want"},
		{"POST", "/emulator/clock", `{"advance":"100000h"}`, 400, "at most"},
		{"POST", "/emulator/approve", `{"mode":"deny","next":1000000000}`, 400, "next must be"},
		{"POST", "/emulator/keys", `{"limit":-1}`, 400, "limit"},
		{"POST", "/emulator/keys", `{"limit_reset":"hourly"}`, 400, "limit_reset"},
		{"POST", "/emulator/keys", `{"email":"nobody@example.com"}`, 404, ""},
		{"POST", "/emulator/keys", `{"usage":-1}`, 400, "usage"},
		{"POST", "/emulator/users", `{"email":"not an email"}`, 400, "email"},
		{"POST", "/emulator/keys/abc/usage", `{"usage":1}`, 400, "hash"},
		{"POST", "/emulator/keys/" + strings.Repeat("0", 64) + "/usage", `{"usage":1}`, 404, ""},
		{"POST", "/emulator/keys/" + strings.Repeat("0", 64) + "/usage", `{}`, 400, "usage is required"},
		{"GET", "/emulator/reset", "", 405, "use POST"},
		{"DELETE", "/emulator/clock", "", 405, "use GET, POST"},
		{"GET", "/emulator/nothing", "", 404, "No control endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			res, body := call(t, tt.method, srv.URL+tt.path, tt.body)
			var e struct {
				Error struct {
					Code    int
					Message string
				}
			}
			json.Unmarshal([]byte(body), &e)
			if res.StatusCode != tt.status || e.Error.Code != tt.status || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("%s %s %s = %d %s, want %d with %q", tt.method, tt.path, tt.body, res.StatusCode, body, tt.status, tt.message)
			}
		})
	}
}

// TestControlIndex: GET /emulator/ lists every endpoint.
func TestControlIndex(t *testing.T) {
	srv := keygatetest.New(t)
	res, body := call(t, "GET", srv.URL+"/emulator/", "")
	for _, want := range []string{`"POST /emulator/reset"`, `"POST /emulator/keys/{hash}/usage"`, `"GET /emulator/requests"`} {
		if res.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("GET /emulator/ = %d %s, want %s listed", res.StatusCode, body, want)
		}
	}
}

// TestSetUsageAndClock: usage set through the control API is what GET
// /api/v1/key reports, to the micro-dollar, in each window; it only
// grows; advancing the clock a day empties the daily window only.
func TestSetUsageAndClock(t *testing.T) {
	srv := keygatetest.New(t)
	res, body := call(t, "POST", srv.URL+"/emulator/keys", `{"name":"k","limit":1,"limit_reset":"daily","usage":0.25}`)
	var k struct {
		Key, Hash      string
		Usage          float64
		LimitRemaining float64 `json:"limit_remaining"`
	}
	if json.Unmarshal([]byte(body), &k); res.StatusCode != 201 || k.Usage != 0.25 || k.LimitRemaining != 0.75 {
		t.Fatalf("POST /emulator/keys = %d %s", res.StatusCode, body)
	}
	key := func() (usage, daily float64) {
		t.Helper()
		_, body := call(t, "GET", srv.URL+"/api/v1/key", "", "Authorization", "Bearer "+k.Key)
		var v struct {
			Data struct {
				Usage      float64
				UsageDaily float64 `json:"usage_daily"`
			}
		}
		json.Unmarshal([]byte(body), &v)
		return v.Data.Usage, v.Data.UsageDaily
	}
	if u, d := key(); u != 0.25 || d != 0.25 {
		t.Errorf("after create: usage %v daily %v, want 0.25 0.25", u, d)
	}
	if res, body := call(t, "POST", srv.URL+"/emulator/keys/"+k.Hash+"/usage", `{"usage":0.000001}`); res.StatusCode != 400 || !strings.Contains(body, "only grows") {
		t.Errorf("lowering usage = %d %s, want 400", res.StatusCode, body)
	}
	if info := srv.SetUsage(k.Key, 1.000001); info.Usage.Daily != 1_000_001 {
		t.Errorf("SetUsage: daily %d µ$, want 1000001", info.Usage.Daily)
	}
	if res, body := call(t, "POST", srv.URL+"/api/v1/chat/completions", `{"model":"keygate/echo","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+k.Key); res.StatusCode != 403 || !strings.Contains(body, "Key limit exceeded (daily limit)") {
		t.Errorf("chat past the limit = %d %s", res.StatusCode, body)
	}
	if res, body := call(t, "POST", srv.URL+"/emulator/clock", `{"advance":86400}`); res.StatusCode != 200 || !strings.Contains(body, `"offset_seconds":86400`) {
		t.Errorf("POST /emulator/clock = %d %s", res.StatusCode, body)
	}
	if u, d := key(); u != 1.000001 || d != 0 {
		t.Errorf("a day later: usage %v daily %v, want 1.000001 0", u, d)
	}
}

// TestRecordsAndReset: codes of both flows, exchanges (won and refused)
// and charges are recorded; Reset forgets them, drops keys made since the
// start, keeps the management key and puts the clock back.
func TestRecordsAndReset(t *testing.T) {
	srv := keygatetest.New(t)
	res, body := call(t, "POST", srv.URL+"/api/v1/auth/keys/code", `{"callback_url":"https://app.example/cb"}`, "Authorization", "Bearer "+srv.ManagementKey)
	var c struct{ Data struct{ ID string } }
	if json.Unmarshal([]byte(body), &c); res.StatusCode != 200 {
		t.Fatalf("POST /api/v1/auth/keys/code = %d %s", res.StatusCode, body)
	}
	_, body = call(t, "POST", srv.URL+"/api/v1/auth/keys", `{"code":"`+c.Data.ID+`"}`)
	var x struct{ Key string }
	json.Unmarshal([]byte(body), &x)
	call(t, "POST", srv.URL+"/api/v1/chat/completions", `{"model":"keygate/echo","messages":[{"role":"user","content":"a b c"}]}`, "Authorization", "Bearer "+x.Key)
	// A replay (which also disables the key: RFC 6749 §4.1.2), as a form.
	call(t, "POST", srv.URL+"/api/v1/auth/keys", "code="+c.Data.ID, "Content-Type", "application/x-www-form-urlencoded")
	srv.AdvanceClock(time.Hour)

	codes, exchanges, requests := srv.Emulator.Codes(), srv.Emulator.Exchanges(), srv.Emulator.Requests()
	if len(codes) != 1 || codes[0].Via != "api" || codes[0].Code != c.Data.ID || codes[0].CallbackURL != "https://app.example/cb" {
		t.Errorf("codes = %+v", codes)
	}
	if len(exchanges) != 2 || exchanges[0].Status != 200 || exchanges[0].KeyHash != keygate.HashSecret(x.Key) ||
		exchanges[1].Status != 403 || exchanges[1].Code != c.Data.ID || exchanges[1].Error != keygate.MsgInvalidCode {
		t.Errorf("exchanges = %+v", exchanges)
	}
	// 3 words each way at 5 and 15 USD per million.
	if len(requests) != 1 || requests[0].CostMicros != 60 || requests[0].PromptTokens != 3 || requests[0].KeyHash != keygate.HashSecret(x.Key) {
		t.Errorf("requests = %+v", requests)
	}

	srv.Reset()
	if n := len(srv.Emulator.Codes()) + len(srv.Emulator.Exchanges()) + len(srv.Emulator.Requests()); n != 0 {
		t.Errorf("%d records after reset", n)
	}
	if off := srv.Emulator.Clock().Offset(); off != 0 {
		t.Errorf("clock offset %v after reset", off)
	}
	for key, want := range map[string]int{srv.APIKey: 200, srv.ManagementKey: 200, x.Key: 401} {
		if res, _ := call(t, "GET", srv.URL+"/api/v1/key", "", "Authorization", "Bearer "+key); res.StatusCode != want {
			t.Errorf("after reset: GET /api/v1/key = %d, want %d", res.StatusCode, want)
		}
	}
}

// TestModels: the built-in models are listed at their prices, answer
// deterministically, honour max_tokens, and refuse an unknown fault.
func TestModels(t *testing.T) {
	srv := keygatetest.New(t, keygatetest.WithPrices("1", "2.5"), keygatetest.WithLorem(5, 0))
	_, body := call(t, "GET", srv.URL+"/api/v1/models", "")
	for _, want := range []string{`"id":"keygate/echo"`, `"id":"keygate/lorem"`, `"prompt":"0.000001"`, `"completion":"0.0000025"`} {
		if !strings.Contains(body, want) {
			t.Errorf("models lack %s: %s", want, body)
		}
	}
	tests := []struct {
		name, body, fault string
		status            int
		content           string
		usage             string
	}{
		{"echo", `{"model":"keygate/echo","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":[{"type":"text","text":"last one"}]}]}`, "",
			200, `"content":"last one"`, `"prompt_tokens":4,"completion_tokens":2,"total_tokens":6`},
		{"lorem", `{"model":"keygate/lorem","messages":[{"role":"user","content":"go"}]}`, "",
			200, `"content":"lorem ipsum dolor sit amet"`, `"completion_tokens":5`},
		{"lorem-max-tokens", `{"model":"keygate/lorem","max_tokens":2,"messages":[{"role":"user","content":"go"}]}`, "",
			200, `"finish_reason":"length"`, `"completion_tokens":2`},
		{"unknown-fault", `{"model":"keygate/echo:slow","messages":[{"role":"user","content":"go"}]}`, "",
			400, `unknown fault \"slow\"`, ""},
		{"unknown-fault-header", `{"model":"keygate/echo","messages":[{"role":"user","content":"go"}]}`, "sometimes",
			400, `unknown fault \"sometimes\"`, ""},
		{"unknown-model", `{"model":"keygate/other","messages":[]}`, "", 400, `Model \"keygate/other\" is not available`, ""},
	}
	// The dev user's management key manages keys and cannot call models,
	// as on OpenRouter.
	res, body := call(t, "POST", srv.URL+"/api/v1/chat/completions", tests[0].body, "Authorization", "Bearer "+srv.ManagementKey)
	if res.StatusCode != 403 || !strings.Contains(body, "Management keys cannot make requests that spend") {
		t.Errorf("chat with the management key = %d %s, want 403", res.StatusCode, body)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := []string{"Authorization", "Bearer " + srv.APIKey}
			if tt.fault != "" {
				h = append(h, emulator.FaultHeader, tt.fault)
			}
			res, body := call(t, "POST", srv.URL+"/api/v1/chat/completions", tt.body, h...)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.content) || !strings.Contains(body, tt.usage) {
				t.Errorf("= %d %s, want %d with %s and %s", res.StatusCode, body, tt.status, tt.content, tt.usage)
			}
		})
	}
}

// TestClosed: after Close, requests and control calls answer 503, never
// a panic.
func TestClosed(t *testing.T) {
	srv := keygatetest.New(t)
	if err := srv.Emulator.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/key", ""},
		{"POST", "/emulator/keys", `{}`},
		{"POST", "/emulator/approve", `{"mode":"auto","email":"dev@localhost"}`},
	} {
		w := httptest.NewRecorder()
		srv.Emulator.ServeHTTP(w, httptest.NewRequest(r.method, r.path, strings.NewReader(r.body)))
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "stopped") {
			t.Errorf("%s %s after Close = %d %s, want 503", r.method, r.path, w.Code, w.Body)
		}
	}
}

// TestFaults: each fault, asked for by header or by model suffix, is
// answered as docs/emulator.md says, and charged only for what a cut
// stream produced.
func TestFaults(t *testing.T) {
	srv := keygatetest.New(t, keygatetest.WithUpstreamTimeout(300*time.Millisecond), keygatetest.WithLorem(6, 0))
	tests := []struct {
		fault      string
		stream     bool
		status     int
		retryAfter string
		body       []string
		charged    bool
	}{
		{"429", false, 429, "1", []string{"rate-limited"}, false},
		{"500", false, 502, "", []string{"failed (status 500)"}, false},
		{"502", false, 502, "", []string{"failed (status 502)"}, false},
		{"timeout", false, 504, "", []string{"timed out"}, false},
		{"timeout", true, 504, "", []string{"timed out"}, false},
		{"cut-stream", false, 502, "", []string{"cannot be reached"}, false},
		{"cut-stream", true, 200, "", []string{`"content":"lorem"`, `"content":" dolor"`, "ended the stream early"}, true},
	}
	for _, tt := range tests {
		for _, how := range []string{"header", "suffix"} {
			t.Run(tt.fault+"-"+how+"-"+map[bool]string{false: "whole", true: "stream"}[tt.stream], func(t *testing.T) {
				key := srv.CreateKey(emulator.KeyParams{})
				model, h := emulator.LoremModel, []string{"Authorization", "Bearer " + key}
				if how == "suffix" {
					model += ":" + tt.fault
				} else {
					h = append(h, emulator.FaultHeader, tt.fault)
				}
				body := `{"model":"` + model + `","stream":` + map[bool]string{false: "false", true: "true"}[tt.stream] + `,"messages":[{"role":"user","content":"go"}]}`
				res, got := call(t, "POST", srv.URL+"/api/v1/chat/completions", body, h...)
				if res.StatusCode != tt.status || res.Header.Get("Retry-After") != tt.retryAfter {
					t.Errorf("= %d Retry-After %q, want %d %q: %s", res.StatusCode, res.Header.Get("Retry-After"), tt.status, tt.retryAfter, got)
				}
				for _, want := range tt.body {
					if !strings.Contains(got, want) {
						t.Errorf("body lacks %s: %s", want, got)
					}
				}
				if strings.Contains(got, `" amet"`) || strings.Contains(got, "[DONE]") {
					t.Errorf("a cut answer went on past its half: %s", got)
				}
				charged := false
				for _, r := range srv.Emulator.Requests() {
					charged = charged || (r.KeyHash == keygate.HashSecret(key) && r.CostMicros > 0)
				}
				if charged != tt.charged {
					t.Errorf("charged %v, want %v", charged, tt.charged)
				}
			})
		}
	}
}
