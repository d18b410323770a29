package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/keygate/keygate"
)

// maxRecorded bounds each list the emulator keeps of what happened; the
// oldest entries go first.
const maxRecorded = 1000

// Code is an authorization code the emulator issued, by GET /auth (via
// "auth", with nobody or somebody approving) or by POST
// /api/v1/auth/keys/code (via "api").
type Code struct {
	At          time.Time `json:"at"`
	Via         string    `json:"via"`
	Code        string    `json:"code"`
	CallbackURL string    `json:"callback_url,omitempty"`
	State       *string   `json:"state,omitempty"`
}

// Exchange is a POST /api/v1/auth/keys: the code presented and what it
// got, a key (by its hash) or an error.
type Exchange struct {
	At      time.Time `json:"at"`
	Code    string    `json:"code"`
	Status  int       `json:"status"`
	UserID  string    `json:"user_id,omitempty"`
	KeyHash string    `json:"key_hash,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// Request is a metered request: one charge the service made, from the
// gateway's built-in models or from POST /api/v1/usage. Cost is in USD and
// CostMicros in micro-dollars.
type Request struct {
	At               time.Time `json:"at"`
	ID               string    `json:"id"`
	KeyHash          string    `json:"key_hash"`
	Model            string    `json:"model"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	Cost             float64   `json:"cost"`
	CostMicros       int64     `json:"cost_micros"`
	Streamed         bool      `json:"streamed"`
	Cancelled        bool      `json:"cancelled"`
	FinishReason     string    `json:"finish_reason,omitempty"`
}

// recorder keeps what the emulator's clients did, for the control API.
type recorder struct {
	mu        sync.Mutex
	codes     []Code
	exchanges []Exchange
	requests  []Request
}

func push[T any](mu *sync.Mutex, list *[]T, v T) {
	mu.Lock()
	defer mu.Unlock()
	if len(*list) == maxRecorded {
		*list = (*list)[1:]
	}
	*list = append(*list, v)
}

func snapshot[T any](mu *sync.Mutex, list []T) []T {
	mu.Lock()
	defer mu.Unlock()
	return append(make([]T, 0, len(list)), list...)
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.codes, rec.exchanges, rec.requests = nil, nil, nil
}

// observer is the service's observer (metrics) that also records every
// charge.
type observer struct {
	keygate.Observer
	rec *recorder
}

func (o observer) Charged(g *keygate.Generation) {
	o.Observer.Charged(g)
	push(&o.rec.mu, &o.rec.requests, Request{
		At: g.CreatedAt, ID: g.ID, KeyHash: g.KeyHash, Model: g.Model,
		PromptTokens: g.PromptTokens, CompletionTokens: g.CompletionTokens,
		Cost: g.Cost.USD(), CostMicros: int64(g.Cost),
		Streamed: g.Streamed, Cancelled: g.Cancelled, FinishReason: g.FinishReason,
	})
}

// capture is a ResponseWriter that keeps the status and the first 64 KiB
// of the body of the small JSON answers the recorder reads.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if n := 64<<10 - c.body.Len(); n > 0 {
		c.body.Write(b[:min(n, len(b))])
	}
	return c.ResponseWriter.Write(b)
}

// record serves r with next, recording the codes issued and the
// exchanges. Other requests pass untouched.
func (rec *recorder) record(next http.Handler, now func() time.Time, w http.ResponseWriter, r *http.Request) {
	kind := ""
	switch {
	case r.URL.Path == "/auth" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		kind = "auth"
	case r.URL.Path == "/api/v1/auth/keys/code" && r.Method == http.MethodPost:
		kind = "api"
	case r.URL.Path == "/api/v1/auth/keys" && r.Method == http.MethodPost:
		kind = "exchange"
	default:
		next.ServeHTTP(w, r)
		return
	}
	var body bytes.Buffer
	if kind != "auth" {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &limitedBuffer{&body, 64 << 10}), r.Body}
	}
	c := &capture{ResponseWriter: w}
	next.ServeHTTP(c, r)
	at := now().UTC()
	switch kind {
	case "auth":
		loc, err := url.Parse(c.Header().Get("Location"))
		if c.status != http.StatusFound || err != nil || !loc.Query().Has("code") {
			return
		}
		q := loc.Query()
		code := Code{At: at, Via: "auth", Code: q.Get("code"), CallbackURL: r.URL.Query().Get("callback_url")}
		if q.Has("state") {
			s := q.Get("state")
			code.State = &s
		}
		push(&rec.mu, &rec.codes, code)
	case "api":
		var out struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if c.status != http.StatusOK || json.Unmarshal(c.body.Bytes(), &out) != nil {
			return
		}
		var in struct {
			CallbackURL string `json:"callback_url"`
		}
		json.Unmarshal(body.Bytes(), &in)
		push(&rec.mu, &rec.codes, Code{At: at, Via: "api", Code: out.Data.ID, CallbackURL: in.CallbackURL})
	case "exchange":
		push(&rec.mu, &rec.exchanges, exchangeOf(at, r.Header.Get("Content-Type"), body.Bytes(), c))
	}
}

// exchangeOf describes an exchange from its request body (JSON or a form)
// and its answer.
func exchangeOf(at time.Time, contentType string, in []byte, c *capture) Exchange {
	x := Exchange{At: at, Status: c.status}
	var req struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(in, &req) == nil {
		x.Code = req.Code
	} else if form, err := url.ParseQuery(string(in)); err == nil {
		x.Code = form.Get("code")
	}
	var out struct {
		Key    string `json:"key"`
		UserID string `json:"user_id"`
		Error  struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(c.body.Bytes(), &out)
	x.UserID, x.Error = out.UserID, out.Error.Message
	if out.Key != "" {
		x.KeyHash = keygate.HashSecret(out.Key)
	}
	return x
}

// limitedBuffer keeps the first n bytes written to it and drops the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
