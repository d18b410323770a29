package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	keygate.EINVALID:      http.StatusBadRequest,
	keygate.EUNAUTHORIZED: http.StatusUnauthorized,
	keygate.EPAYMENT:      http.StatusPaymentRequired,
	keygate.EFORBIDDEN:    http.StatusForbidden,
	keygate.ENOTFOUND:     http.StatusNotFound,
	keygate.EMETHOD:       http.StatusMethodNotAllowed,
	keygate.ECONFLICT:     http.StatusConflict,
	keygate.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	keygate.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	keygate.ERATELIMIT:    http.StatusTooManyRequests,
	keygate.EUNAVAILABLE:  http.StatusServiceUnavailable,
	keygate.EINTERNAL:     http.StatusInternalServerError,
}

// StatusClientClosed is the status of a request whose client hung up
// before its answer was ready (nginx's 499). The client never sees it;
// it keeps a dropped connection out of the 5xx count of whatever records
// statuses, since the server did nothing wrong.
const StatusClientClosed = 499

// HTTPStatus returns the status for err's code, or the status an error in
// err's chain carries itself (the gateway passing on an upstream's 422 or
// 502, say).
func HTTPStatus(err error) int {
	if e, ok := errors.AsType[interface {
		error
		HTTPStatus() int
	}](err); ok {
		return e.HTTPStatus()
	}
	if s, ok := statusOf[keygate.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// apiHandler is an API handler that returns its error instead of writing it.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// handle adapts h: an error becomes the JSON error body; an error that is not
// a *keygate.Error is logged with its cause and shown as a bare 500.
func (s *Server) handle(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := logError(s.log, r, err)
	setRetryAfter(w, err)
	writeJSON(w, status, apitype.ErrorResponse{Error: apitype.ErrorBody{Code: status, Message: keygate.ErrorMessage(err)}})
}

// logError logs a failed request once and returns its status. A server
// error is logged at ERROR with its cause, a client error at DEBUG. A
// request whose client hung up (its context is done) is StatusClientClosed
// and logged at DEBUG, whatever the error it caused: the cause is the
// hang-up, not the server. The route pattern is logged, not the path: a
// client may put a secret in a path segment (a key in place of its hash in
// /api/v1/keys/{hash}).
func logError(log *slog.Logger, r *http.Request, err error) int {
	status := HTTPStatus(err)
	switch {
	case status >= 500 && r.Context().Err() != nil:
		status = StatusClientClosed
		log.DebugContext(r.Context(), "request cancelled by the client", "method", r.Method, "route", r.Pattern)
	case status >= 500 && status != http.StatusServiceUnavailable:
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	default:
		log.DebugContext(r.Context(), "request rejected", "method", r.Method, "route", r.Pattern, "status", status, "message", keygate.ErrorMessage(err))
	}
	return status
}

// setRetryAfter sends err's Error.RetryAfter as Retry-After, in whole
// seconds rounded up, at least 1 (RFC 9110 §10.2.3).
func setRetryAfter(w http.ResponseWriter, err error) {
	e, ok := errors.AsType[*keygate.Error](err)
	if !ok || e.RetryAfter <= 0 {
		return
	}
	secs := int64(math.Ceil(float64(e.RetryAfter) / float64(time.Second)))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}

// writeJSON writes v with status. Encoding a value of our own types cannot
// fail; if the client went away the write error is of no use.
func writeJSON(w http.ResponseWriter, status int, v any) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer e.release()
	e.buf.Reset()
	b := []byte(`{"error":{"code":500,"message":"Internal Server Error"}}`)
	if err := e.enc.Encode(v); err != nil {
		slog.Error("encode response", "err", err)
		status = http.StatusInternalServerError
	} else {
		b = bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")) // Encode ends the value with a newline
	}
	writeBody(w, status, b)
}

// jsonEncoder is an encoder bound to its own buffer. Pooled, it encodes
// responses without allocating a buffer or a copy of the bytes for each.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// release returns e to the pool, unless a big response (a long key list)
// grew its buffer: the pool would keep that memory for good.
func (e *jsonEncoder) release() {
	if e.buf.Cap() <= 64<<10 {
		jsonEncoders.Put(e)
	}
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// Header values shared by every response, so that setting them allocates
// nothing. net/http only reads them; a handler that wants another value
// replaces the slice rather than writing into it.
var (
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
	anyOrigin       = []string{"*"}
)

var errNotFound = &keygate.Error{Code: keygate.ENOTFOUND, Message: "Not Found"}

// writeAppended writes with status the JSON body appendBody appends to the
// buffer it is given (keyjson.go's), in the pooled buffer of writeJSON.
func writeAppended(w http.ResponseWriter, status int, appendBody func([]byte) []byte) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer e.release()
	e.buf.Reset()
	// Appended in place when the buffer has room; written back either way,
	// so that the pooled buffer grows to the bodies it holds.
	e.buf.Write(appendBody(e.buf.AvailableBuffer()))
	writeBody(w, status, e.buf.Bytes())
}

// writeBody writes b, an encoded JSON body, with status: the headers of
// every JSON answer.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(b)
}
