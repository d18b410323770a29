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
		out = out[:len(out)-1]
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, `"system_fingerprint":null}`...)
	}
	return out
}

var errNotObject = errors.New("not a JSON object")

// dropNulls copies the object b without its members named in keys whose
// value is null, and reports whether it has a system_fingerprint member.
// Names and values are copied as they appear in b. Only the top level is
// read: nested objects are checked for validity, not for duplicate names,
// which the gateway leaves to the client that reads them.
func dropNulls(b []byte, keys []string) (out []byte, hasFingerprint bool, err error) {
	// A bytes.Buffer is read in place, not copied into the decoder.
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false, errNotObject
	}
	out = make([]byte, 0, len(b)+32)
	out = append(out, '{')
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, false, err
		}
		nameEnd := int(dec.InputOffset())
		name = b[nameEnd-len(name) : nameEnd] // stays valid past the next read
		val, err := dec.ReadValue()
		if err != nil {
			return nil, false, err
		}
		n, err := memberName(name)
		if err != nil {
			return nil, false, err
		}
		if n == "system_fingerprint" {
			hasFingerprint = true
		}
		if val.Kind() == 'n' && slices.Contains(keys, n) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, val...)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false, err
	}
	return append(out, '}'), hasFingerprint, nil
}

// memberName returns the name of a member from its quoted form; only a
// name with escapes is decoded.
func memberName(quoted []byte) (string, error) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var n string
	err := json.Unmarshal(quoted, &n)
	return n, err
}
