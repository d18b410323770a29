package gateway

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/keygate/keygate"
)

// Body members that would let a request choose its own upstream, its
// credential or its headers (honoured by some proxies and SDK servers,
// never by keygate). They are removed before forwarding, whatever their
// letter case (Go servers decode members case-insensitively), at the top
// level and inside nested objects ("extra_body", "metadata", …, where a
// proxy may look for them too), so an upstream that honours them cannot
// be steered. See docs/gateway.md "Admission".
var steeringMembers = []string{
	"api_base", "base_url", "api_key", "api_version", "api_type",
	"extra_headers", "custom_llm_provider", "organization",
	"azure_ad_token", "aws_access_key_id", "aws_secret_access_key",
	"aws_session_token", "aws_region_name", "vertex_credentials",
	"vertex_project", "vertex_location",
}

// schemaMembers hold JSON schemas, whose member names are the client's
// data (a tool may take an "api_key" parameter), so steering members are
// not removed inside them.
var schemaMembers = []string{"tools", "functions", "response_format"}

// stripSteering removes the steering members from m and from every object
// nested in its members but the schemaMembers. A body that mentions no
// steering name (the usual case) is not walked below its top level. A
// steering member nested deeper than maxStripDepth is an error (a 400):
// walking such a body would cost time growing with the square of its
// depth.
func stripSteering(m map[string]json.RawMessage, raw []byte) error {
	walk := mentionsSteering(raw)
	for k, v := range m {
		if isSteering(k) {
			delete(m, k)
			continue
		}
		if walk && !isSchemaMember(k) {
			nv, changed, err := stripNested(v, 1)
			if err != nil {
				return err
			}
			if changed {
				m[k] = nv
			}
		}
	}
	return nil
}

// maxStripDepth is how deep in a body steering members are removed.
const maxStripDepth = 16

var errSteeringTooDeep = keygate.Errorf(keygate.EINVALID, "Request body nests a member that chooses an upstream or credential (api_base, api_key, …) deeper than %d levels", maxStripDepth)

// stripNested returns v, at depth in the body, without steering members
// at any depth, and whether it changed; values without objects are
// returned as they are.
func stripNested(v json.RawMessage, depth int) (json.RawMessage, bool, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || !mentionsSteering(v) || (v[0] != '{' && v[0] != '[') {
		return v, false, nil
	}
	if depth >= maxStripDepth {
		// One decoding, in time linear in v, tells whether it matters.
		var d any
		if json.Unmarshal(v, &d) == nil && holdsSteering(d) {
			return v, false, errSteeringTooDeep
		}
		return v, false, nil
	}
	changed := false
	if v[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return v, false, nil
		}
		for k, mv := range m {
			if isSteering(k) {
				delete(m, k)
				changed = true
				continue
			}
			nv, c, err := stripNested(mv, depth+1)
			if err != nil {
				return v, false, err
			}
			if c {
				m[k], changed = nv, true
			}
		}
		if !changed {
			return v, false, nil
		}
		b, err := compactJSON(m)
		return b, err == nil, nil
	}
	var a []json.RawMessage
	if json.Unmarshal(v, &a) != nil {
		return v, false, nil
	}
	for i, av := range a {
		nv, c, err := stripNested(av, depth+1)
		if err != nil {
			return v, false, err
		}
		if c {
			a[i], changed = nv, true
		}
	}
	if !changed {
		return v, false, nil
	}
	b, err := compactJSON(a)
	return b, err == nil, nil
}

// holdsSteering reports whether the decoded JSON value d has a steering
// member at any depth.
func holdsSteering(d any) bool {
	switch d := d.(type) {
	case map[string]any:
		for k, v := range d {
			if isSteering(k) || holdsSteering(v) {
				return true
			}
		}
	case []any:
		for _, v := range d {
			if holdsSteering(v) {
				return true
			}
		}
	}
	return false
}

// compactJSON encodes v without HTML escaping: "<" stays "<".
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// mentionsSteering reports whether b may hold a steering member: a string
// equal to a steering name in any letter case, or any \u escape (which
// could spell one). It is a cheap test before any parsing.
func mentionsSteering(b []byte) bool {
	if bytes.Contains(b, []byte(`\u`)) {
		return true
	}
	for i := bytes.IndexByte(b, '"'); i >= 0; {
		rest := b[i+1:]
		for _, k := range steeringMembers {
			if len(rest) > len(k) && rest[len(k)] == '"' && strings.EqualFold(string(rest[:len(k)]), k) {
				return true
			}
		}
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func isSteering(k string) bool {
	for _, s := range steeringMembers {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

func isSchemaMember(k string) bool {
	for _, s := range schemaMembers {
		if k == s {
			return true
		}
	}
	return false
}

// readMembers are the members the gateway reads to route, price and
// relay a request.
var readMembers = []string{"model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n", "best_of", "prompt", "usage"}

// caseVariant returns a member of m whose name is one of readMembers in
// other letters ("Stream", "MAX_TOKENS"), or "". An upstream that decodes
// names case-insensitively (Go's encoding/json does) would honour what
// keygate did not read: a stream it relays as a broken answer, or a
// larger max_tokens than it held for.
func caseVariant(m map[string]json.RawMessage) string {
	for k := range m {
		for _, r := range readMembers {
			if k != r && strings.EqualFold(k, r) {
				return k
			}
		}
	}
	return ""
}
