package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// The built-in models. Each also answers as "<name>:<fault>", which makes
// every answer of that name fail (Faults).
const (
	EchoModel  = "keygate/echo"  // answers with the last user message
	LoremModel = "keygate/lorem" // answers with LoremWords words of lorem ipsum, streamed a word per chunk
)

// FaultHeader, sent by a client with a request to a built-in model, makes
// that one answer fail. Its values, and the model suffixes that do the
// same, are Faults.
const FaultHeader = "X-Keygate-Fault"

// Faults are the failures a built-in model can be asked for, each as a
// real upstream fails (docs/emulator.md "Faults"):
//
//   - "429": 429 with Retry-After: 1, which the gateway passes on;
//   - "500" and "502": that status, which the gateway answers with 502;
//   - "timeout": no answer until the gateway gives up (504);
//   - "cut-stream": half the answer, then the connection is dropped (a
//     stream ends with an error event, charged for what was produced).
var Faults = []string{"429", "500", "502", "timeout", "cut-stream"}

// lorem is the text keygate/lorem repeats, a word per token.
var lorem = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod
tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation
ullamco laboris nisi ut aliquip ex ea commodo consequat`)

// models is the OpenAI-compatible upstream of the built-in models, served
// on a loopback port that the gateway calls as it calls any upstream.
// Tokens are words (runs of non-space characters), so that counts and
// prices can be worked out by hand.
type models struct {
	loremWords int
	loremDelay time.Duration
	n          atomic.Int64 // answers given, for their ids
}

// chatRequest is what the built-in models read of a chat completion
// request (OpenRouter spec path POST /chat/completions).
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int64 `json:"max_tokens"`
	MaxCompletionTokens *int64 `json:"max_completion_tokens"`
}

// text returns the text of a message's content: a string, or the text
// parts of an array of parts.
func text(content json.RawMessage) string {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(content, &parts)
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// usage is the usage member of an answer.
type usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// answer is what a built-in model answers: its words, and why it stopped.
type answer struct {
	words  []string
	finish string
}

// answer computes the answer to req, cut to max_tokens words.
func (m *models) answer(base string, req *chatRequest) answer {
	var words []string
	switch base {
	case EchoModel:
		for i := len(req.Messages) - 1; i >= 0; i-- {
			if req.Messages[i].Role == "user" {
				words = strings.Fields(text(req.Messages[i].Content))
				break
			}
		}
	case LoremModel:
		for i := range m.loremWords {
			words = append(words, lorem[i%len(lorem)])
		}
	}
	a := answer{words: words, finish: "stop"}
	limit := req.MaxCompletionTokens
	if req.MaxTokens != nil {
		limit = req.MaxTokens
	}
	if limit != nil && *limit >= 0 && int64(len(words)) > *limit {
		a.words, a.finish = words[:*limit], "length"
	}
	return a
}

// promptTokens counts the words of every message.
func promptTokens(req *chatRequest) int64 {
	var n int64
	for _, msg := range req.Messages {
		n += int64(len(strings.Fields(text(msg.Content))))
	}
	return n
}

// ServeHTTP answers POST /chat/completions for the built-in models and
// their fault suffixes; anything else is a 404.
func (m *models) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/chat/completions" {
		failWith(w, http.StatusNotFound, "the built-in models answer chat completions only")
		return
	}
	var req chatRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		failWith(w, http.StatusBadRequest, "the body is not a chat completion request")
		return
	}
	base, fault, _ := strings.Cut(req.Model, ":")
	if base != EchoModel && base != LoremModel {
		failWith(w, http.StatusNotFound, fmt.Sprintf("no built-in model %q", base))
		return
	}
	if h := r.Header.Get(FaultHeader); h != "" {
		fault = h
	}
	a := m.answer(base, &req)
	u := usage{PromptTokens: promptTokens(&req), CompletionTokens: int64(len(a.words))}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	id := fmt.Sprintf("gen-emulator-%d-%d", time.Now().UnixNano(), m.n.Add(1))
	switch fault {
	case "":
	case "429":
		w.Header().Set("Retry-After", "1")
		failWith(w, http.StatusTooManyRequests, req.Model+" is rate-limited upstream (emulated fault); retry after 1 second")
		return
	case "500":
		failWith(w, http.StatusInternalServerError, "Internal server error (emulated fault)")
		return
	case "502":
		failWith(w, http.StatusBadGateway, "Bad gateway (emulated fault)")
		return
	case "timeout":
		<-r.Context().Done() // the gateway's upstream timeout ends it
		return
	case "cut-stream":
		a.words = a.words[:len(a.words)/2]
	default:
		failWith(w, http.StatusBadRequest, fmt.Sprintf("unknown fault %q: want one of %s", fault, strings.Join(Faults, ", ")))
		return
	}
	cut := fault == "cut-stream"
	if req.Stream {
		m.stream(w, r.Context(), id, req, a, u, cut)
		return
	}
	m.whole(w, id, req.Model, a, u, cut)
}

// whole answers unstreamed; cut sends half the body, then drops the
// connection.
func (m *models) whole(w http.ResponseWriter, id, model string, a answer, u usage, cut bool) {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": model,
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": a.finish,
			"message": map[string]any{"role": "assistant", "content": strings.Join(a.words, " ")},
		}},
		"usage": u,
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if cut {
		w.Write(b[:len(b)/2])
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	w.Write(b)
}

// stream answers as server-sent events, a word per chunk after the first,
// each delay apart, then the finish reason, the usage when asked for, and
// [DONE]. cut drops the connection after the words instead.
func (m *models) stream(w http.ResponseWriter, ctx context.Context, id string, req chatRequest, a answer, u usage, cut bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	created := time.Now().Unix()
	event := func(choices []any, extra map[string]any) {
		v := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model, "choices": choices}
		for k, x := range extra {
			v[k] = x
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		rc.Flush()
	}
	delta := func(content string, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": content}, "finish_reason": finish}}
	}
	for i, word := range a.words {
		if i > 0 {
			word = " " + word
			select {
			case <-time.After(m.loremDelay):
			case <-ctx.Done():
				return
			}
		}
		event(delta(word, nil), nil)
	}
	if cut {
		panic(http.ErrAbortHandler)
	}
	event(delta("", a.finish), nil)
	if req.StreamOptions.IncludeUsage {
		event([]any{}, map[string]any{"usage": u})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	rc.Flush()
}

// failWith writes an upstream error in OpenRouter's shape.
func failWith(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": message}})
}
