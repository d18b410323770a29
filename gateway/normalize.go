package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/go-json-experiment/json/jsontext"
)

// Members the official SDK (@openrouter/sdk 1.3.19) rejects when null,
// though real upstreams send them so: OpenAI sends "usage": null on every
// chunk when usage is requested, and "system_fingerprint": null; error
// events may carry "code": null.
var (
	nullTop   = []string{"usage", "system_fingerprint"}
	nullError = []string{"code"}
)

// normalize returns a chunk or body with the null members the SDK rejects
// removed; every other byte of each member passes unchanged. Text without
// "null" is returned as it is, and so is text that is not a JSON object.
func normalize(b []byte) []byte {
	if !bytes.Contains(b, []byte("null")) {
		return b
	}
	out, err := dropNulls(b, nullTop, true)
	if err != nil {
		return b
	}
	return out
}

// dropNulls copies the object b without its members named in keys whose
// value is null; with inError, the "error" member's own members get the
// same treatment for nullError.
func dropNulls(b []byte, keys []string, inError bool) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errNotObject
	}
	out := make([]byte, 0, len(b))
	out = append(out, '{')
	first := true
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		name = bytes.Clone(name)
		val, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		var n string
		if err := json.Unmarshal(name, &n); err != nil {
			return nil, err
		}
		if val.Kind() == 'n' && slices.Contains(keys, n) {
			continue
		}
		if inError && n == "error" && val.Kind() == '{' && bytes.Contains(val, []byte("null")) {
			if val, err = dropNulls(val, nullError, false); err != nil {
				return nil, err
			}
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, val...)
	}
	return append(out, '}'), nil
}

var errNotObject = errors.New("not a JSON object")
