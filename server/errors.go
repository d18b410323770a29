package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	keygate.EINVALID:      http.StatusBadRequest,
	keygate.EUNAUTHORIZED: http.StatusUnauthorized,
	keygate.EFORBIDDEN:    http.StatusForbidden,
	keygate.ENOTFOUND:     http.StatusNotFound,
	keygate.EMETHOD:       http.StatusMethodNotAllowed,
	keygate.ECONFLICT:     http.StatusConflict,
	keygate.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	keygate.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	keygate.ERATELIMIT:    http.StatusTooManyRequests,
	keygate.EINTERNAL:     http.StatusInternalServerError,
}

// HTTPStatus returns the status for err's code.
func HTTPStatus(err error) int {
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
	status := HTTPStatus(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.DebugContext(r.Context(), "request rejected", "method", r.Method, "path", r.URL.Path, "status", status, "message", keygate.ErrorMessage(err))
	}
	writeJSON(w, status, apitype.ErrorResponse{Error: apitype.ErrorBody{Code: status, Message: keygate.ErrorMessage(err)}})
}

// writeJSON writes v with status. Encoding a value of our own types cannot
// fail; if the client went away the write error is of no use.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":500,"message":"Internal Server Error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

var errNotFound = &keygate.Error{Code: keygate.ENOTFOUND, Message: "Not Found"}
