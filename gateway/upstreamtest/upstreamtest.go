// Package upstreamtest is an OpenAI-compatible upstream for tests and
// benchmarks: chat completions (streamed or not), completions and
// embeddings, each answer scripted per request by a function of the
// request, with the faults and quirks of real upstreams (errors, delays,
// slow, cut and malformed streams, CRLF framing, one byte per write,
// OpenAI's null members, gzip). It logs every request it receives and
// every request its client cancelled. Answers are deterministic.
package upstreamtest

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Usage is the usage an answer reports.
type Usage struct {
	PromptTokens, CompletionTokens, ReasoningTokens int64
}

// Reply scripts one answer. The zero value is a 200 answer "Hello" with
// no usage.
type Reply struct {
	Status int // 0 is 200; another status sends Body (or a JSON error) unstreamed
	// Body is the whole body, sent as it is, for any status; for a 200
	// answer to a streamed request, as text/event-stream.
	Body   string
	Header map[string]string // extra response headers (Retry-After, …)
	// HeaderDelay is waited before the response headers.
	HeaderDelay time.Duration

	ID           string   // the answer's id; "" is "chatcmpl-<n>", n counting requests
	Model        string   // the model reported; "" echoes the request's
	Content      []string // the text, one stream chunk per element; nil is {"Hello"}
	FinishReason string   // "" is "stop"; "-" sends none
	// Usage is reported in the body, or in a last chunk with no choices
	// when the request asked for stream_options.include_usage (and
	// UsageOnLastChunk is false). UsageJSON, when set, is the usage
	// object's exact text instead (cost, is_byok, cost_details).
	Usage     *Usage
	UsageJSON string
	// UsageOnLastChunk puts the usage on the finish_reason chunk instead of
	// a chunk of its own.
	UsageOnLastChunk bool
	// RepeatUsage puts the (running) usage on every chunk, as some
	// upstreams do; only the last is the total.
	RepeatUsage bool

	ChunkDelay time.Duration // before each stream chunk after the first
	// Hold, when set, is waited on after the first chunk is flushed.
	Hold <-chan struct{}
	// CutAfter drops the connection after that many content chunks
	// (no finish_reason, no [DONE]); 0 is off.
	CutAfter int
	// ErrorAfter sends ErrorEvent (default a 502 error object with
	// "code": null members) after that many content chunks, then ends
	// the stream without [DONE]; 0 is off.
	ErrorAfter int
	ErrorEvent string
	NoDone     bool     // end without data: [DONE]
	Comments   []string // comment lines sent before the first chunk
	CRLF       bool     // frame with CRLF instead of LF
	OneByte    bool     // write (and flush) one byte at a time
	SplitData  bool     // spread each chunk's JSON over two data: lines
	NoSpace    bool     // "data:" without the space
	// NullQuirks sends "usage": null and "system_fingerprint": null on
	// every chunk and body, as OpenAI does.
	NullQuirks bool
	Gzip       bool // gzip the body when the client accepts it
}

// Request is a request the server received.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
	Model  string
	Stream bool
	// IncludeUsage is stream_options.include_usage.
	IncludeUsage bool
	// EncodingFormat is an embeddings request's encoding_format.
	EncodingFormat string
}

// Server is a running upstream. Its base URL for keygate's models file is
// URL + "/v1".
type Server struct {
	*httptest.Server
	script func(*Request) Reply

	mu        sync.Mutex
	requests  []*Request
	cancelled []*Request
}

// New starts a server answering each request with script(request); a nil
// script answers every request with the zero Reply.
func New(script func(*Request) Reply) *Server {
	s := &Server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.requests...)
}

// Cancelled returns the requests whose client went away before the
// answer was complete.
func (s *Server) Cancelled() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.cancelled...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := &Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	var in struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		EncodingFormat string `json:"encoding_format"`
	}
	json.Unmarshal(body, &in)
	req.Model, req.Stream, req.IncludeUsage, req.EncodingFormat = in.Model, in.Stream, in.StreamOptions.IncludeUsage, in.EncodingFormat
	s.mu.Lock()
	s.requests = append(s.requests, req)
	n := len(s.requests)
	s.mu.Unlock()

	var rep Reply
	if s.script != nil {
		rep = s.script(req)
	}
	a := &answerer{Reply: rep, req: req, w: w, r: r, n: n}
	if !a.run() {
		s.mu.Lock()
		s.cancelled = append(s.cancelled, req)
		s.mu.Unlock()
	}
}

// answerer writes one reply.
type answerer struct {
	Reply
	req *Request
	w   http.ResponseWriter
	r   *http.Request
	n   int
	out io.Writer
	gz  *gzip.Writer
}

// run answers; false when the client went away first.
func (a *answerer) run() bool {
	if !a.wait(a.HeaderDelay) {
		return false
	}
	for k, v := range a.Header {
		a.w.Header().Set(k, v)
	}
	a.out = a.w
	if a.Gzip && strings.Contains(a.r.Header.Get("Accept-Encoding"), "gzip") {
		a.w.Header().Set("Content-Encoding", "gzip")
		a.gz = gzip.NewWriter(a.w)
		a.out = a.gz
		defer a.gz.Close()
	}
	switch {
	case a.Status != 0 && a.Status != http.StatusOK:
		body := a.Body
		if body == "" {
			body = fmt.Sprintf(`{"error":{"code":%d,"message":"scripted failure"}}`, a.Status)
		}
		a.w.Header().Set("Content-Type", "application/json")
		a.w.WriteHeader(a.Status)
		return a.write(body)
	case a.Body != "" && a.req.Stream:
		a.w.Header().Set("Content-Type", "text/event-stream")
		return a.write(a.Body)
	case a.Body != "":
		a.w.Header().Set("Content-Type", "application/json")
		return a.write(a.Body)
	case strings.HasSuffix(a.req.Path, "/embeddings"):
		a.w.Header().Set("Content-Type", "application/json")
		return a.write(a.embeddings())
	case a.req.Stream:
		return a.stream()
	}
	a.w.Header().Set("Content-Type", "application/json")
	return a.write(a.whole())
}

func (a *answerer) id() string {
	if a.ID != "" {
		return a.ID
	}
	return fmt.Sprintf("chatcmpl-%d", a.n)
}

func (a *answerer) model() string {
	if a.Model != "" {
		return a.Model
	}
	return a.req.Model
}

func (a *answerer) content() []string {
	if a.Content == nil {
		return []string{"Hello"}
	}
	return a.Content
}

func (a *answerer) finish() string {
	switch a.FinishReason {
	case "":
		return `"stop"`
	case "-":
		return "null"
	}
	return jsonString(a.FinishReason)
}

func (a *answerer) usageJSON(u *Usage) string {
	if a.UsageJSON != "" {
		return a.UsageJSON
	}
	if u == nil {
		return ""
	}
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"completion_tokens_details":{"reasoning_tokens":%d}}`,
		u.PromptTokens, u.CompletionTokens, u.PromptTokens+u.CompletionTokens, u.ReasoningTokens)
}

func (a *answerer) quirks() string {
	if a.NullQuirks {
		return `,"system_fingerprint":null,"usage":null`
	}
	return ""
}

// whole is an unstreamed chat or text completion.
func (a *answerer) whole() string {
	text := strings.Join(a.content(), "")
	var choice, object string
	if strings.HasSuffix(a.req.Path, "/chat/completions") {
		object = "chat.completion"
		choice = fmt.Sprintf(`{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":%s}`, jsonString(text), a.finish())
	} else {
		object = "text_completion"
		choice = fmt.Sprintf(`{"index":0,"text":%s,"finish_reason":%s}`, jsonString(text), a.finish())
	}
	usage := ""
	if u := a.usageJSON(a.Usage); u != "" {
		usage = `,"usage":` + u
	} else if a.NullQuirks {
		usage = `,"usage":null`
	}
	fp := ""
	if a.NullQuirks {
		fp = `,"system_fingerprint":null`
	}
	return fmt.Sprintf(`{"id":%s,"object":%q,"created":1700000000,"model":%s,"choices":[%s]%s%s}`,
		jsonString(a.id()), object, jsonString(a.model()), choice, usage, fp)
}

// embedding is every answer's vector; with "encoding_format": "base64"
// (the openai package's default) it is sent as little-endian float32s in
// base64, as OpenAI does.
var embedding = []float32{0.25, -0.5, 0.125}

func (a *answerer) embeddings() string {
	usage := ""
	if a.Usage != nil {
		usage = fmt.Sprintf(`,"usage":{"prompt_tokens":%d,"total_tokens":%d}`, a.Usage.PromptTokens, a.Usage.PromptTokens)
	}
	vector := "[0.25,-0.5,0.125]"
	if a.req.EncodingFormat == "base64" {
		b := make([]byte, 0, 4*len(embedding))
		for _, f := range embedding {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		vector = jsonString(base64.StdEncoding.EncodeToString(b))
	}
	return fmt.Sprintf(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":%s}],"model":%s%s}`, vector, jsonString(a.model()), usage)
}

// stream sends the chunks of a streamed chat or text completion.
func (a *answerer) stream() bool {
	a.w.Header().Set("Content-Type", "text/event-stream")
	a.w.WriteHeader(http.StatusOK)
	for _, c := range a.Comments {
		if !a.line(":"+c) || !a.line("") {
			return false
		}
	}
	chat := strings.HasSuffix(a.req.Path, "/chat/completions")
	chunk := func(choice, extra string) string {
		object := "text_completion"
		if chat {
			object = "chat.completion.chunk"
		}
		return fmt.Sprintf(`{"id":%s,"object":%q,"created":1700000000,"model":%s,"choices":[%s]%s%s}`,
			jsonString(a.id()), object, jsonString(a.model()), choice, a.quirks(), extra)
	}
	delta := func(text, finish string) string {
		if chat {
			return fmt.Sprintf(`{"index":0,"delta":{"role":"assistant","content":%s},"finish_reason":%s}`, jsonString(text), finish)
		}
		return fmt.Sprintf(`{"index":0,"text":%s,"finish_reason":%s}`, jsonString(text), finish)
	}
	var running Usage
	for i, text := range a.content() {
		if i > 0 && !a.wait(a.ChunkDelay) {
			return false
		}
		extra := ""
		if a.RepeatUsage && a.Usage != nil {
			running.PromptTokens = a.Usage.PromptTokens
			running.CompletionTokens = a.Usage.CompletionTokens * int64(i+1) / int64(len(a.content())+1)
			extra = `,"usage":` + a.usageJSON(&running)
		}
		if !a.event(chunk(delta(text, "null"), extra)) {
			return false
		}
		if i == 0 && a.Hold != nil {
			select {
			case <-a.Hold:
			case <-a.r.Context().Done():
				return false
			}
		}
		if a.CutAfter == i+1 {
			panic(http.ErrAbortHandler) // drops the connection mid-body
		}
		if a.ErrorAfter == i+1 {
			ev := a.ErrorEvent
			if ev == "" {
				ev = fmt.Sprintf(`{"id":%s,"choices":[],"error":{"code":null,"message":"provider failed mid-stream","metadata":{"status":502}}}`, jsonString(a.id()))
			}
			return a.event(ev)
		}
	}
	if !a.wait(a.ChunkDelay) {
		return false
	}
	usage := a.usageJSON(a.Usage)
	final := chunk(delta("", a.finish()), "")
	if usage != "" && (a.UsageOnLastChunk || a.RepeatUsage) {
		final = chunk(delta("", a.finish()), `,"usage":`+usage)
	}
	if a.FinishReason != "-" && !a.event(final) {
		return false
	}
	if usage != "" && a.req.IncludeUsage && !a.UsageOnLastChunk && !a.RepeatUsage {
		if !a.event(fmt.Sprintf(`{"id":%s,"object":"chat.completion.chunk","created":1700000000,"model":%s,"choices":[],"usage":%s}`, jsonString(a.id()), jsonString(a.model()), usage)) {
			return false
		}
	}
	if a.NoDone {
		return true
	}
	return a.event("[DONE]")
}

// event writes one data event in the scripted framing.
func (a *answerer) event(data string) bool {
	prefix := "data: "
	if a.NoSpace {
		prefix = "data:"
	}
	if a.SplitData && len(data) > 2 && data[0] == '{' {
		cut := strings.Index(data, ",") + 1
		return a.line(prefix+data[:cut]) && a.line(prefix+data[cut:]) && a.line("")
	}
	return a.line(prefix+data) && a.line("")
}

func (a *answerer) line(s string) bool {
	if a.CRLF {
		return a.write(s + "\r\n")
	}
	return a.write(s + "\n")
}

// write sends s (byte by byte with OneByte) and flushes, except a whole
// unstreamed body, which goes out with its Content-Length as real
// upstreams send JSON.
func (a *answerer) write(s string) bool {
	if !a.req.Stream && !a.OneByte && a.gz == nil {
		_, err := io.WriteString(a.out, s)
		return err == nil && a.r.Context().Err() == nil
	}
	parts := []string{s}
	if a.OneByte {
		parts = parts[:0]
		for i := range len(s) {
			parts = append(parts, s[i:i+1])
		}
	}
	rc := http.NewResponseController(a.w)
	for _, p := range parts {
		if _, err := io.WriteString(a.out, p); err != nil {
			return false
		}
		if a.gz != nil {
			a.gz.Flush()
		}
		if rc.Flush() != nil {
			return false
		}
	}
	return a.r.Context().Err() == nil
}

// wait sleeps d unless the client goes away first.
func (a *answerer) wait(d time.Duration) bool {
	if d <= 0 {
		return a.r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.r.Context().Done():
		return false
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
