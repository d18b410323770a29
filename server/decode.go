package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/keygate/keygate"
)

// MaxBodyBytes caps every request body: 1 MiB.
const MaxBodyBytes = 1 << 20

// bodyKind is how a request body is encoded.
type bodyKind int

const (
	bodyJSON bodyKind = iota
	bodyForm
)

// readBody reads the capped body and decides its encoding. JSON is taken
// when the media type says so (any case, any parameters: RFC 9110 §8.3.1),
// when there is no Content-Type, or when the body is a JSON object whatever
// the header says (curl -d sends a form type). A form body is taken for
// application/x-www-form-urlencoded (RFC 6749 §4.1.3). Anything else is 415.
func readBody(w http.ResponseWriter, r *http.Request, allowForm bool) ([]byte, bodyKind, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if e, ok := errors.AsType[*http.MaxBytesError](err); ok {
			// The tighter of this cap and one the handler set before.
			return nil, 0, keygate.Errorf(keygate.ETOOLARGE, "request body is larger than %d bytes", e.Limit)
		}
		return nil, 0, keygate.Errorf(keygate.EINVALID, "request body could not be read")
	}
	if len(r.Header.Values("Content-Type")) > 1 {
		return nil, 0, keygate.Errorf(keygate.EINVALID, "Content-Type header appears more than once")
	}
	looksJSON := bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
	ct := r.Header.Get("Content-Type")
	if ct == "" || looksJSON {
		return b, bodyJSON, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return nil, 0, keygate.Errorf(keygate.EUNSUPPORTED, "Content-Type is not a valid media type")
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return b, bodyJSON, nil
	case allowForm && mt == "application/x-www-form-urlencoded":
		return b, bodyForm, nil
	}
	return nil, 0, keygate.Errorf(keygate.EUNSUPPORTED, "Content-Type must be application/json")
}

// readJSON reads the request's body (readBody: ETOOLARGE above
// MaxBodyBytes, forms refused) and decodes it into a new T (decodeJSON:
// EINVALID naming what is wrong).
func readJSON[T any](w http.ResponseWriter, r *http.Request) (*T, error) {
	b, _, err := readBody(w, r, false)
	if err != nil {
		return nil, err
	}
	var v T
	if err := decodeJSON(b, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// decodeJSON decodes an object into dst. Unknown fields are ignored (RFC
// 6749 §3.1); duplicate names, invalid UTF-8, trailing data and wrong types
// are EINVALID naming the field.
func decodeJSON(b []byte, dst any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return keygate.Errorf(keygate.EINVALID, "request body must be a JSON object")
	}
	err := json.Unmarshal(b, dst)
	if err == nil {
		return nil
	}
	if se, ok := errors.AsType[*json.SemanticError](err); ok && se.JSONPointer != "" {
		field := strings.TrimPrefix(string(se.JSONPointer), "/")
		return keygate.Errorf(keygate.EINVALID, "%s has the wrong type or value", field)
	}
	if se, ok := errors.AsType[*jsontext.SyntacticError](err); ok && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return keygate.Errorf(keygate.EINVALID, "%s appears more than once", strings.TrimPrefix(string(se.JSONPointer), "/"))
	}
	return keygate.Errorf(keygate.EINVALID, "request body is not valid JSON")
}

// formValues parses a form body. Repeated fields are EINVALID.
func formValues(b []byte) (url.Values, error) {
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "request body is not a valid form")
	}
	for name, vals := range v {
		if len(vals) > 1 {
			return nil, keygate.Errorf(keygate.EINVALID, "%s appears more than once", name)
		}
	}
	return v, nil
}
