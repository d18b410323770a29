package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/keygate/keygate/apitype"
)

// Error is a non-2xx answer of the API. Match kinds with errors.Is and the
// sentinels below; read the details with errors.As.
type Error struct {
	StatusCode int    // the HTTP status
	Code       int    // error.code of the body; the status when the body has none
	Message    string // error.message of the body, e.g. "Invalid code or code_verifier"
}

func (e *Error) Error() string {
	return fmt.Sprintf("client: %s (HTTP %d)", e.Message, e.StatusCode)
}

// Sentinels for errors.Is(err, ...). Each matches an *Error by status:
// ErrBadRequest 400 (and 405, 413, 415, 422: the request itself is wrong),
// ErrUnauthorized 401 (no key, or one that is unknown, disabled or expired),
// ErrForbidden 403 (a key that may not do this, or a bad code or
// code_verifier at the exchange), ErrNotFound 404, ErrConflict 409,
// ErrRateLimited 429, ErrServer any 5xx.
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrRateLimited  = errors.New("rate limited")
	ErrServer       = errors.New("server error")
)

// Is reports whether target is the sentinel for e's status.
func (e *Error) Is(target error) bool {
	switch s := e.StatusCode; target {
	case ErrBadRequest:
		return s == http.StatusBadRequest || s == http.StatusMethodNotAllowed ||
			s == http.StatusRequestEntityTooLarge || s == http.StatusUnsupportedMediaType ||
			s == http.StatusUnprocessableEntity
	case ErrUnauthorized:
		return s == http.StatusUnauthorized
	case ErrForbidden:
		return s == http.StatusForbidden
	case ErrNotFound:
		return s == http.StatusNotFound
	case ErrConflict:
		return s == http.StatusConflict
	case ErrRateLimited:
		return s == http.StatusTooManyRequests
	case ErrServer:
		return s >= 500
	}
	return false
}

// newError reads an error body ({"error":{"code":N,"message":"..."}}); a
// body of another shape, such as a proxy's HTML page, gives the status text.
func newError(status int, body []byte) *Error {
	e := &Error{StatusCode: status, Code: status, Message: http.StatusText(status)}
	var b apitype.ErrorResponse
	if json.Unmarshal(body, &b) == nil {
		if b.Error.Code != 0 {
			e.Code = b.Error.Code
		}
		if b.Error.Message != "" {
			e.Message = b.Error.Message
		}
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP status %d", status)
	}
	return e
}
