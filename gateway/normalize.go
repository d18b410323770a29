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

// The answer's id is keygate's: every answer and chunk carries the id of
// its generation (the request's Reservation.GenerationID), as OpenRouter's
// do, so that the id a client reads is the one GET /api/v1/generation
// takes. The upstream's own id is kept as the generation's upstream_id.

// normalizeChunk returns a stream chunk with id for its "id" and without
// the null members the SDK rejects; every other byte of each member
// passes unchanged. id is a JSON string. A chunk that is not a JSON
// object is returned as it is.
func normalizeChunk(b, id []byte) []byte {
	// Most chunks start with their id and hold no null and no second
	// "id": the id is swapped in place of the upstream's, with no parse.
	if rest, ok := bytes.CutPrefix(b, []byte(`{"id":"`)); ok {
		end := bytes.IndexByte(rest, '"')
		if end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 && !bytes.Contains(rest[end:], []byte("null")) && !bytes.Contains(rest[end:], []byte(`"id"`)) {
			out := make([]byte, 0, len(b)-end+len(id))
			out = append(out, `{"id":`...)
			out = append(out, id...)
			return append(out, rest[end+1:]...)
		}
	}
	out, _, err := rewriteObject(b, id, chunkNulls)
	if err != nil {
		return b
	}
	return out
}

// normalizeBody is normalizeChunk for an unstreamed answer. A chat
// completion without an id gets one, and one without system_fingerprint
// gets "system_fingerprint": null, which the SDK's chat result requires.
func normalizeBody(b, id []byte, chat bool) []byte {
	out, seen, err := rewriteObject(b, id, bodyNulls)
	if err != nil {
		return b
	}
	if chat && !seen.id {
		out = addMember(out, `"id":`+string(id))
	}
	if chat && !seen.fingerprint {
		out = addMember(out, `"system_fingerprint":null`)
	}
	return out
}

// addMember adds member ("name":value) at the end of the object out.
func addMember(out []byte, member string) []byte {
	out = out[:len(out)-1]
	if len(out) > 1 {
		out = append(out, ',')
	}
	return append(append(out, member...), '}')
}

var errNotObject = errors.New("not a JSON object")

// members says which members rewriteObject saw.
type members struct{ id, fingerprint bool }

// rewriteObject copies the object b with id (a JSON string) as the value
// of its "id" members, and without its members named in drop whose value
// is null. Names and other values are copied as they appear in b. Only
// the top level is read: nested objects are checked for validity, not for
// duplicate names, which the gateway leaves to the client that reads
// them.
func rewriteObject(b, id []byte, drop []string) ([]byte, members, error) {
	var seen members
	// A bytes.Buffer is read in place, not copied into the decoder.
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, seen, errNotObject
	}
	out := make([]byte, 0, len(b)+len(id)+32)
	out = append(out, '{')
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, seen, err
		}
		nameEnd := int(dec.InputOffset())
		name = b[nameEnd-len(name) : nameEnd] // stays valid past the next read
		val, err := dec.ReadValue()
		if err != nil {
			return nil, seen, err
		}
		n, err := memberName(name)
		if err != nil {
			return nil, seen, err
		}
		switch n {
		case "id":
			seen.id = true
			val = jsontext.Value(id)
		case "system_fingerprint":
			seen.fingerprint = true
		}
		if val.Kind() == 'n' && slices.Contains(drop, n) {
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
		return nil, seen, err
	}
	return append(out, '}'), seen, nil
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
