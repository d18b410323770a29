package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/server"
)

// maxAdvance bounds one move of the clock: ten years.
const maxAdvance = 10 * 366 * 24 * time.Hour

// maxControlBody caps a control API request body: 64 KiB.
const maxControlBody = 64 << 10

// controlRoute is one control API endpoint.
type controlRoute struct {
	method, path string
	h            func(e *Emulator, w http.ResponseWriter, r *http.Request) error
}

// controlRoutes is the control API (docs/emulator.md "Control API").
var controlRoutes = []controlRoute{
	{"POST", "/emulator/reset", (*Emulator).postReset},
	{"GET", "/emulator/clock", (*Emulator).getClock},
	{"POST", "/emulator/clock", (*Emulator).postClock},
	{"GET", "/emulator/approve", (*Emulator).getApprove},
	{"POST", "/emulator/approve", (*Emulator).postApprove},
	{"POST", "/emulator/users", (*Emulator).postUser},
	{"POST", "/emulator/keys", (*Emulator).postKey},
	{"POST", "/emulator/keys/{hash}/usage", (*Emulator).postUsage},
	{"GET", "/emulator/codes", func(e *Emulator, w http.ResponseWriter, _ *http.Request) error {
		return reply(w, http.StatusOK, listBody[Code]{e.Codes()})
	}},
	{"GET", "/emulator/exchanges", func(e *Emulator, w http.ResponseWriter, _ *http.Request) error {
		return reply(w, http.StatusOK, listBody[Exchange]{e.Exchanges()})
	}},
	{"GET", "/emulator/requests", func(e *Emulator, w http.ResponseWriter, _ *http.Request) error {
		return reply(w, http.StatusOK, listBody[Request]{e.Requests()})
	}},
}

// controlMux routes the control API; its errors are JSON.
func (e *Emulator) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range controlRoutes {
		h := rt.h
		mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := h(e, w, r); err != nil {
				writeError(w, err)
			}
		})
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for path, methods := range allowed {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			writeError(w, keygate.Errorf(keygate.EMETHOD, "Method %s is not allowed; use %s", r.Method, strings.Join(methods, ", ")))
		})
	}
	mux.HandleFunc("GET /emulator/{$}", func(w http.ResponseWriter, _ *http.Request) {
		index := indexBody{Docs: "docs/emulator.md", Endpoints: []string{}}
		for _, rt := range controlRoutes {
			index.Endpoints = append(index.Endpoints, rt.method+" "+rt.path)
		}
		reply(w, http.StatusOK, index)
	})
	mux.HandleFunc("/emulator/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, keygate.Errorf(keygate.ENOTFOUND, "No control endpoint %s (docs/emulator.md lists them)", r.URL.Path))
	})
	return mux
}

// indexBody is GET /emulator/: the control API's endpoints.
type indexBody struct {
	Docs      string   `json:"docs"`
	Endpoints []string `json:"endpoints"`
}

type listBody[T any] struct {
	Data []T `json:"data"`
}

func reply(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

func writeError(w http.ResponseWriter, err error) {
	status := server.HTTPStatus(err)
	reply(w, status, apitype.ErrorResponse{Error: apitype.ErrorBody{Code: status, Message: keygate.ErrorMessage(err)}})
}

// decode reads r's JSON body into v, refusing unknown members; an empty
// body leaves v as it is.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		return keygate.Errorf(keygate.EINVALID, "the body could not be read")
	}
	if len(b) > maxControlBody {
		return keygate.Errorf(keygate.ETOOLARGE, "the body is over %d bytes", maxControlBody)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return keygate.Errorf(keygate.EINVALID, "%s must be %s", te.Field, jsonKind(te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return keygate.Errorf(keygate.EINVALID, "unknown member %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return keygate.Errorf(keygate.EINVALID, "the body is not JSON: %v", err)
	}
	return nil
}

// jsonKind names the JSON value a Go type is read from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
		return "a number"
	}
	return "a " + t.Kind().String()
}

func (e *Emulator) postReset(w http.ResponseWriter, r *http.Request) error {
	if err := e.Reset(r.Context()); err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]string{"status": "reset"})
}

// clockBody is the clock as the control API shows it.
type clockBody struct {
	Now           string  `json:"now"`
	OffsetSeconds float64 `json:"offset_seconds"`
}

func (e *Emulator) getClock(w http.ResponseWriter, _ *http.Request) error {
	return reply(w, http.StatusOK, clockBody{Now: e.clock.Now().UTC().Format(time.RFC3339Nano), OffsetSeconds: e.clock.Offset().Seconds()})
}

// postClock advances the clock by "advance", a Go duration ("24h",
// "1h30m") or a number of seconds.
func (e *Emulator) postClock(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Advance json.RawMessage `json:"advance"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	d, err := parseAdvance(in.Advance)
	if err != nil {
		return err
	}
	e.clock.Advance(d)
	return e.getClock(w, r)
}

func parseAdvance(raw json.RawMessage) (time.Duration, error) {
	var d time.Duration
	var s string
	var secs float64
	switch {
	case len(raw) == 0:
		return 0, keygate.Errorf(keygate.EINVALID, "advance is required: a duration (\"24h\") or seconds")
	case json.Unmarshal(raw, &s) == nil:
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, keygate.Errorf(keygate.EINVALID, "advance %q: want a duration such as \"24h\" or \"90m\"", s)
		}
	case json.Unmarshal(raw, &secs) == nil && secs <= maxAdvance.Seconds():
		d = time.Duration(secs * float64(time.Second))
	default:
		return 0, keygate.Errorf(keygate.EINVALID, "advance: want a duration (\"24h\") or a number of seconds")
	}
	if d < 0 {
		return 0, keygate.Errorf(keygate.EINVALID, "advance must not be negative: the clock only moves ahead")
	}
	if d > maxAdvance {
		return 0, keygate.Errorf(keygate.EINVALID, "advance must be at most %s at a time", maxAdvance)
	}
	return d, nil
}

// approveBody is the approve mode as the control API shows it.
type approveBody struct {
	Mode Mode   `json:"mode"`
	Next []Mode `json:"next"`
}

func (e *Emulator) getApprove(w http.ResponseWriter, _ *http.Request) error {
	a := &e.approval
	a.mu.Lock()
	out := approveBody{Mode: a.standing.mode, Next: []Mode{}}
	for _, c := range a.queue {
		out.Next = append(out.Next, c.mode)
	}
	a.mu.Unlock()
	return reply(w, http.StatusOK, out)
}

func (e *Emulator) postApprove(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Mode  string `json:"mode"`
		Next  int    `json:"next"`
		Email string `json:"email"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := e.Approve(r.Context(), Mode(in.Mode), in.Next, in.Email); err != nil {
		return err
	}
	return e.getApprove(w, r)
}

func (e *Emulator) postUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := e.CreateUser(r.Context(), in.Email, in.Password)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, u)
}

// keyBody is a key's state as the control API shows it, in USD.
type keyBody struct {
	Key            string   `json:"key,omitempty"` // only when created
	Hash           string   `json:"hash"`
	Name           string   `json:"name"`
	Management     bool     `json:"management"`
	Limit          *float64 `json:"limit"`
	LimitReset     *string  `json:"limit_reset"`
	LimitRemaining *float64 `json:"limit_remaining"`
	Usage          float64  `json:"usage"`
	UsageDaily     float64  `json:"usage_daily"`
	UsageWeekly    float64  `json:"usage_weekly"`
	UsageMonthly   float64  `json:"usage_monthly"`
}

func keyJSON(secret string, info *keygate.KeyInfo) keyBody {
	k := info.Key
	out := keyBody{
		Key: secret, Hash: k.Hash, Name: k.Name, Management: k.IsManagement,
		Usage: info.Usage.Total.USD(), UsageDaily: info.Usage.Daily.USD(),
		UsageWeekly: info.Usage.Weekly.USD(), UsageMonthly: info.Usage.Monthly.USD(),
	}
	if k.Limit != nil {
		l := k.Limit.USD()
		out.Limit = &l
	}
	if k.LimitReset != keygate.ResetNone {
		s := string(k.LimitReset)
		out.LimitReset = &s
	}
	if info.Remaining != nil {
		rem := info.Remaining.USD()
		out.LimitRemaining = &rem
	}
	return out
}

func (e *Emulator) postKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email      string   `json:"email"`
		Name       string   `json:"name"`
		Limit      *float64 `json:"limit"`
		LimitReset string   `json:"limit_reset"`
		ExpiresAt  *string  `json:"expires_at"`
		Management bool     `json:"management"`
		Usage      float64  `json:"usage"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	secret, info, err := e.CreateKey(r.Context(), KeyParams{
		Email: in.Email, Usage: in.Usage,
		NewKeyParams: keygate.NewKeyParams{
			Name: in.Name, LimitUSD: in.Limit, LimitReset: in.LimitReset,
			ExpiresAt: in.ExpiresAt, IsManagement: in.Management,
		},
	})
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, keyJSON(secret, info))
}

func (e *Emulator) postUsage(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Usage *float64 `json:"usage"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Usage == nil {
		return keygate.Errorf(keygate.EINVALID, "usage is required: the key's usage in USD")
	}
	info, err := e.SetUsage(r.Context(), r.PathValue("hash"), *in.Usage)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, keyJSON("", info))
}
