package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

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
	body       []byte // what is sent upstream
	// size is the length of body without the whitespace between its
	// tokens: what the prompt estimate counts, however the client spaced
	// its JSON.
	size int
}

// Body members that would let a request choose its own upstream or
// credential (honoured by some proxies, never by keygate), removed before
// forwarding so an upstream that honours them cannot be steered.
var steeringMembers = []string{"api_base", "base_url", "api_key"}

// Body members that let OpenRouter serve another model than the one asked
// for; removed unless the model is charged at the upstream's reported
// cost, so the model served is the model priced.
var fallbackMembers = []string{"models", "route"}

// readRequest reads and checks the body: at most maxBody bytes (413), a
// JSON object (400) naming a configured model (400 naming it). The model
// comes only from the body. It returns the request rewritten for the
// upstream.
//
// The body is scanned once: the members the gateway reads (model,
// stream, stream_options, max_tokens, max_completion_tokens, usage) are
// decoded, every other member is kept as its bytes. A body that needs no
// rewriting (the model keeps its name, no member is removed, no usage
// chunk is asked for) goes upstream exactly as it came. A top-level member
// named twice, in any letter case, is refused (400), so what keygate reads
// is what the upstream reads.
func (g *Gateway) readRequest(w http.ResponseWriter, r *http.Request, endpoint string) (*request, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, keygate.Errorf(keygate.ETOOLARGE, "Request body is larger than %d bytes", g.maxBody)
	} else if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "Request body could not be read")
	}
	members, err := scanObject(b)
	if err != nil {
		return nil, err
	}
	req := &request{}
	m := members.get("model")
	if m == nil || json.Unmarshal(m, &req.name) != nil || req.name == "" {
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
	streamOptions, err := req.readOptions(members, endpoint)
	if err != nil {
		return nil, err
	}
	drop := func(name string) bool {
		return slices.Contains(steeringMembers, name) || (!req.model.Pricing.Upstream && slices.Contains(fallbackMembers, name))
	}
	rewrite := req.upstreamName != req.name || streamOptions != nil
	for _, mb := range members {
		rewrite = rewrite || drop(mb.name)
	}
	if !rewrite {
		req.body, req.size = b, jsonSize(b)
		return req, nil
	}
	model, _ := json.Marshal(req.upstreamName)
	out := make([]byte, 0, len(b)+len(model)+32)
	out = append(out, '{')
	add := func(raw, val []byte) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(out, raw...), ':'), val...)
	}
	for _, mb := range members {
		switch {
		case drop(mb.name):
		case mb.name == "model":
			add(mb.rawName, model)
		case mb.name == "stream_options" && streamOptions != nil:
			add(mb.rawName, streamOptions)
			streamOptions = nil
		default:
			add(mb.rawName, mb.value)
		}
	}
	if streamOptions != nil {
		add([]byte(`"stream_options"`), streamOptions)
	}
	req.body = append(out, '}')
	req.size = jsonSize(req.body)
	return req, nil
}

// jsonSize is the length of the valid JSON text b without the whitespace
// between its tokens (RFC 8259 §2): the length of its compact form.
func jsonSize(b []byte) int {
	n := 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"'
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		n++
	}
	return n
}

// member is one member of a JSON object: its name, and its name and value
// as they appear in the body.
type member struct {
	name           string
	rawName, value jsontext.Value
}

type members []member

// get returns the value of the member named name, or nil.
func (ms members) get(name string) jsontext.Value {
	for _, m := range ms {
		if m.name == name {
			return m.value
		}
	}
	return nil
}

// scanObject splits the JSON object b into its members, whose raw name and
// value are slices of b. Anything but one valid JSON object (RFC 8259), or
// one that gives a member's name twice at its top level (in any letter
// case), is a 400.
func scanObject(b []byte) (members, error) {
	errObject := keygate.Errorf(keygate.EINVALID, "Request body must be a JSON object")
	// A bytes.Buffer is read in place, not copied into the decoder. Names
	// given twice are looked for at the top level only, where the gateway
	// reads; nested objects go upstream as they are.
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errObject
	}
	ms := make(members, 0, 8)
	for dec.PeekKind() != '}' {
		var m member
		for _, v := range []*jsontext.Value{&m.rawName, &m.value} {
			raw, err := dec.ReadValue()
			if err != nil {
				return nil, errObject
			}
			end := int(dec.InputOffset())
			*v = b[end-len(raw) : end]
		}
		name, err := memberName(m.rawName)
		if err != nil {
			return nil, errObject
		}
		// Twice in any letter case: servers that decode members
		// case-insensitively (Go's encoding/json) may read the other one.
		if slices.ContainsFunc(ms, func(o member) bool { return strings.EqualFold(o.name, name) }) {
			return nil, keygate.Errorf(keygate.EINVALID, "Request body names the member %q twice", name)
		}
		m.name = name
		ms = append(ms, m)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, errObject
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errObject
	}
	return ms, nil
}

// readOptions reads stream, stream_options and the token cap. For a
// stream whose client did not ask for the usage chunk it returns the
// stream_options to send instead, which ask for it.
func (req *request) readOptions(ms members, endpoint string) (streamOptions []byte, err error) {
	if v := ms.get("stream"); v != nil && endpoint != "embeddings" && string(v) != "null" {
		if json.Unmarshal(v, &req.stream) != nil {
			return nil, keygate.Errorf(keygate.EINVALID, "stream must be a boolean")
		}
	}
	for _, f := range []string{"max_tokens", "max_completion_tokens"} {
		v := ms.get(f)
		if v == nil || string(v) == "null" {
			continue
		}
		var n int64
		if json.Unmarshal(v, &n) != nil || n < 0 {
			return nil, keygate.Errorf(keygate.EINVALID, "%s must be a non-negative integer", f)
		}
		req.maxTokens = max(req.maxTokens, n)
	}
	if !req.stream {
		return nil, nil
	}
	opts := map[string]json.RawMessage{}
	if v := ms.get("stream_options"); v != nil && string(v) != "null" {
		if json.Unmarshal(v, &opts) != nil {
			return nil, keygate.Errorf(keygate.EINVALID, "stream_options must be an object")
		}
	}
	var include bool
	if v, ok := opts["include_usage"]; ok && json.Unmarshal(v, &include) != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "stream_options.include_usage must be a boolean")
	}
	if include {
		return nil, nil
	}
	opts["include_usage"] = json.RawMessage("true")
	// OpenRouter's usage accounting ("usage": {"include": true}) is the
	// other way to ask for the usage chunk.
	var accounting struct {
		Include bool `json:"include"`
	}
	if v := ms.get("usage"); v != nil {
		json.Unmarshal(v, &accounting)
	}
	req.usageAdded = !accounting.Include
	streamOptions, _ = json.Marshal(opts)
	return streamOptions, nil
}

// reservation is what is held before forwarding: the prompt estimate
// (the body's compact length / 4, rounded up) at the prompt price, plus max_tokens (or
// the model's reserve_tokens) at the completion price. Reserve clamps it to
// what the key has left. A model charged at the upstream's cost is
// estimated at its fallback price.
func (req *request) reservation() keygate.Micros {
	prompt, completion := req.model.Pricing.tokenPrices()
	out := req.maxTokens
	if out == 0 {
		out = req.model.ReserveTokens
	}
	return max(Cost(estimateTokens(req.size), out, prompt, completion), 1)
}
