package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// What the official SDK (@openrouter/sdk 1.3.19) rejects that real
// upstreams send: OpenAI sends "usage": null on every chunk when usage is
// requested, and "system_fingerprint": null; the SDK's stream chunk takes
// neither as null, and its chat result takes no null usage but requires
// system_fingerprint (null allowed), which some upstreams leave out.
// (Error events, which may carry "code": null, are rewritten whole: see
// call.fail.)
var (
	chunkNulls = []string{"usage", "system_fingerprint"}
	bodyNulls  = []string{"usage"}
)

// normalizeChunk returns a stream chunk without the null members the SDK
// rejects; every other byte of each member passes unchanged. A chunk
// without "null" is returned as it is, and so is one that is not a JSON
// object.
func normalizeChunk(b []byte) []byte {
	if !bytes.Contains(b, []byte("null")) {
		return b
	}
	out, _, err := dropNulls(b, chunkNulls)
	if err != nil {
		return b
	}
	return out
}

// normalizeBody is normalizeChunk for an unstreamed answer; a chat
// completion without system_fingerprint gets "system_fingerprint": null,
// which the SDK's chat result requires.
func normalizeBody(b []byte, chat bool) []byte {
	out, hasFingerprint, err := dropNulls(b, bodyNulls)
	if err != nil {
		return b
	}
	if chat && !hasFingerprint {
		out = append(out[:len(out)-1], `,"system_fingerprint":null}`...)
	}
	return out
}

var errNotObject = errors.New("not a JSON object")

// dropNulls copies the object b without its members named in keys whose
// value is null, and reports whether it has a system_fingerprint member.
func dropNulls(b []byte, keys []string) (out []byte, hasFingerprint bool, err error) {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false, errNotObject
	}
	out = make([]byte, 0, len(b)+32)
	out = append(out, '{')
	first := true
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, false, err
		}
		name = bytes.Clone(name)
		val, err := dec.ReadValue()
		if err != nil {
			return nil, false, err
		}
		var n string
		if err := json.Unmarshal(name, &n); err != nil {
			return nil, false, err
		}
		if n == "system_fingerprint" {
			hasFingerprint = true
		}
		if val.Kind() == 'n' && slices.Contains(keys, n) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, val...)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false, err
	}
	return append(out, '}'), hasFingerprint, nil
}
