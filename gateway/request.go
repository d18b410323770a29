package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/keygate/keygate"
)

// request is a client's request, checked and rewritten for the upstream.
type request struct {
	model        *Model
	name         string // the model the client asked for
	upstreamName string
	stream       bool
	// usageAdded says the gateway asked the upstream for the usage chunk
	// the client did not ask for: that chunk is metered, not forwarded.
	usageAdded bool
	maxTokens  int64  // max_tokens or max_completion_tokens; 0 when absent
	choices    int64  // answers of up to maxTokens asked for: max(n, best_of, 1), times the prompts of a completions request
	body       []byte // what is sent upstream
}

// Body members that let OpenRouter serve another model than the one asked
// for; removed unless the model is charged at the upstream's reported
// cost, so the model served is the model priced.
var fallbackMembers = []string{"models", "route"}

// readRequest reads and checks the body: at most maxBody bytes (413), a
// JSON object (400) naming a configured model (400 naming it). The model
// comes only from the body. It returns the request rewritten for the
// upstream.
func (g *Gateway) readRequest(w http.ResponseWriter, r *http.Request, endpoint string) (*request, error) {
	b, err := readBody(http.MaxBytesReader(w, r.Body, g.maxBody), r.ContentLength)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, keygate.Errorf(keygate.ETOOLARGE, "Request body is larger than %d bytes", g.maxBody)
	} else if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "Request body could not be read")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, keygate.Errorf(keygate.EINVALID, "Request body must be a JSON object")
	}
	if k := caseVariant(m); k != "" {
		return nil, keygate.Errorf(keygate.EINVALID, "%.50q is not a member keygate reads: letter case matters", k)
	}
	req := &request{}
	if err := json.Unmarshal(m["model"], &req.name); err != nil || req.name == "" {
		return nil, keygate.Errorf(keygate.EINVALID, "model is required and must be a string")
	}
	if req.model = g.routes.Load().model(req.name); req.model == nil {
		name := req.name
		if len(name) > 200 {
			name = name[:200] + "…"
		}
		return nil, keygate.Errorf(keygate.EINVALID, "Model %q is not available", name)
	}
	req.upstreamName = req.model.upstreamName(req.name)
	if err := req.readOptions(m, endpoint); err != nil {
		return nil, err
	}
	if err := stripSteering(m, b); err != nil {
		return nil, err
	}
	if !req.model.Pricing.Upstream {
		for _, k := range fallbackMembers {
			delete(m, k)
		}
	}
	m["model"], _ = json.Marshal(req.upstreamName)
	if req.body, err = marshalBody(m); err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "Request body must be valid JSON")
	}
	return req, nil
}

// readBody reads body, whose length the client said is length (-1: not
// said), into one allocation when that is at most presizeMax: more is
// not allocated before it arrives, as the client is not yet
// authenticated.
func readBody(body io.Reader, length int64) ([]byte, error) {
	if length < 0 || length > presizeMax {
		return io.ReadAll(body)
	}
	// bytes.Buffer reads with MinRead bytes free, the last read (the one
	// that finds the end) included.
	buf := bytes.NewBuffer(make([]byte, 0, length+bytes.MinRead))
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

// presizeMax is the largest body readBody allocates for before it
// arrives: 64 KiB.
const presizeMax = 64 << 10

// marshalBody encodes the rewritten body: its members sorted by name,
// their values compacted (the prompt estimate counts its bytes, which
// pretty-printing must not grow) and nothing HTML-escaped: "<" in a
// prompt stays "<".
func marshalBody(m map[string]json.RawMessage) ([]byte, error) {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 4
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	buf.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, err := jsontext.AppendQuote(buf.AvailableBuffer(), k)
		if err != nil {
			return nil, err
		}
		buf.Write(name)
		buf.WriteByte(':')
		if v := m[k]; bytes.ContainsAny(v, " \t\r\n") {
			if err := json.Compact(buf, v); err != nil {
				return nil, err
			}
		} else {
			buf.Write(v)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// readOptions reads stream, stream_options and the token cap, and asks
// for the usage chunk of a stream when the client did not.
func (req *request) readOptions(m map[string]json.RawMessage, endpoint string) error {
	if v, ok := m["stream"]; ok && endpoint != "embeddings" && string(v) != "null" {
		if json.Unmarshal(v, &req.stream) != nil {
			return keygate.Errorf(keygate.EINVALID, "stream must be a boolean")
		}
	}
	for _, f := range []string{"max_tokens", "max_completion_tokens"} {
		v, ok := m[f]
		if !ok || string(v) == "null" {
			continue
		}
		var n int64
		if json.Unmarshal(v, &n) != nil || n < 0 {
			return keygate.Errorf(keygate.EINVALID, "%s must be a non-negative integer", f)
		}
		req.maxTokens = max(req.maxTokens, n)
	}
	// Each of n choices (best_of candidates for completions) is up to
	// max_tokens long.
	req.choices = 1
	for _, f := range []string{"n", "best_of"} {
		v, ok := m[f]
		if !ok || string(v) == "null" || endpoint == "embeddings" {
			continue
		}
		var n int64
		if json.Unmarshal(v, &n) != nil || n < 1 {
			return keygate.Errorf(keygate.EINVALID, "%s must be a positive integer", f)
		}
		req.choices = max(req.choices, n)
	}
	if endpoint == "completions" {
		req.choices = satMul(req.choices, prompts(m["prompt"]))
	}
	if !req.stream {
		return nil
	}
	opts := map[string]json.RawMessage{}
	if v, ok := m["stream_options"]; ok && string(v) != "null" {
		if json.Unmarshal(v, &opts) != nil {
			return keygate.Errorf(keygate.EINVALID, "stream_options must be an object")
		}
	}
	var include bool
	if v, ok := opts["include_usage"]; ok && json.Unmarshal(v, &include) != nil {
		return keygate.Errorf(keygate.EINVALID, "stream_options.include_usage must be a boolean")
	}
	if include {
		return nil
	}
	opts["include_usage"] = json.RawMessage("true")
	m["stream_options"], _ = json.Marshal(opts)
	// OpenRouter's usage accounting ("usage": {"include": true}) is the
	// other way to ask for the usage chunk.
	var accounting struct {
		Include bool `json:"include"`
	}
	if v, ok := m["usage"]; ok {
		json.Unmarshal(v, &accounting)
	}
	req.usageAdded = !accounting.Include
	return nil
}

// reservation is what is held before forwarding: the prompt estimate
// (body bytes / 4, rounded up) at the prompt price, plus max_tokens (or
// the model's reserve_tokens) for each of the n choices at the completion
// price. Reserve clamps it to what the key has left. A model charged at
// the upstream's cost is estimated at its fallback price.
func (req *request) reservation() keygate.Micros {
	prompt, completion := req.model.Pricing.tokenPrices()
	out := req.maxTokens
	if out == 0 {
		out = req.model.ReserveTokens
	}
	out = satMul(out, req.choices) // Cost saturates
	return max(Cost(estimateTokens(len(req.body)), out, prompt, completion), 1)
}

// prompts is how many prompts a completions request's prompt holds, each
// answered with its own choices: the length of an array of strings or of
// token arrays; 1 for a string or one token array.
func prompts(v json.RawMessage) int64 {
	var a []json.RawMessage
	if json.Unmarshal(v, &a) != nil || len(a) == 0 {
		return 1
	}
	if b := bytes.TrimSpace(a[0]); len(b) > 0 && b[0] != '"' && b[0] != '[' {
		return 1 // token ids: one prompt
	}
	return int64(len(a))
}

// satMul is a × b for positive a and b, saturating at the int64 maximum.
func satMul(a, b int64) int64 {
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
