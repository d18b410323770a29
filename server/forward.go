package server

import (
	"net/http"
	"strconv"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// Forward-auth for proxies keygate does not run (docs/integrations.md):
// nginx auth_request, Caddy forward_auth, Traefik ForwardAuth and Envoy
// ext_authz ask /api/v1/auth/verify before each request, and the operator
// reports what requests cost to /api/v1/usage with a service token.

// verify serves /api/v1/auth/verify and /api/v1/auth/verify/<path>, for
// any method: Envoy's ext_authz sends the original method with the
// original path appended. Only the Authorization header is read: the
// forwarded method, URI and host (X-Forwarded-*, X-Original-URI,
// Forwarded) never change the key or the limit checked, and the
// attribution headers only which app is named.
//
// 200 with the apitype.Header* values; 401 for a missing, unknown,
// disabled or expired key (or service token); 403 "Key limit exceeded
// (<window> limit)" past a limit of the key or an ancestor; 503 when the
// store cannot be read. A refusal has keygate's JSON error body and, for
// nginx's error_page mapping, X-Keygate-Status and X-Keygate-Error. Every
// answer is Cache-Control: no-store.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h["Cache-Control"] = noStore
	a, appID, err := s.admit(r)
	if err != nil {
		status := HTTPStatus(err)
		h.Set(apitype.HeaderStatus, strconv.Itoa(status))
		h.Set(apitype.HeaderError, keygate.ErrorMessage(err))
		return err
	}
	k := a.Key
	v := apitype.Verify{UserID: k.UserID, KeyHash: k.Hash, WorkspaceID: k.WorkspaceID, AppID: appID}
	app, remaining := "none", "unlimited"
	if appID != nil {
		app = strconv.FormatInt(*appID, 10)
	}
	if a.Remaining != nil {
		remaining = usdText(*a.Remaining)
		usd := a.Remaining.USD()
		v.LimitRemaining = &usd
	}
	// The names are canonical; the five values share one array.
	vals := []string{k.UserID, k.Hash, k.WorkspaceID, app, remaining}
	h[apitype.HeaderUserID] = vals[0:1:1]
	h[apitype.HeaderKeyHash] = vals[1:2:2]
	h[apitype.HeaderWorkspaceID] = vals[2:3:3]
	h[apitype.HeaderAppID] = vals[3:4:4]
	h[apitype.HeaderLimitRemaining] = vals[4:5:5]
	body := apitype.VerifyResponse{Data: v}
	writeAppended(w, http.StatusOK, func(b []byte) []byte { return appendVerifyResponse(b, &body) })
	return nil
}

// admit authenticates and admits the request's key, and names the app of
// its attribution headers (else the key's).
func (s *Server) admit(r *http.Request) (*keygate.Admission, *int64, error) {
	ctx := r.Context()
	k, err := s.authenticate(r)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.svc.Admit(ctx, k)
	if err != nil {
		return nil, nil, err
	}
	appID, err := s.svc.AttributeApp(ctx, k, attribution(r))
	if err != nil {
		return nil, nil, err
	}
	return a, appID, nil
}

// usdText renders micro-dollars as USD with six decimals: "4.999750".
func usdText(m keygate.Micros) string {
	var b [32]byte
	out := b[:0]
	if m < 0 {
		out, m = append(out, '-'), -m
	}
	out = append(strconv.AppendInt(out, int64(m/1_000_000), 10), '.')
	f := int64(m % 1_000_000)
	for div := int64(100_000); div > 0; div /= 10 {
		out = append(out, byte('0'+f/div%10))
	}
	return string(out)
}

// usageEvent is one event of a POST /api/v1/usage body, as it is read
// before the service judges it. Cost is a JSON number of USD, or absent.
type usageEvent struct {
	ID               string            `json:"id"`
	KeyHash          string            `json:"key_hash"`
	Key              string            `json:"key"`
	Model            string            `json:"model"`
	PromptTokens     int64             `json:"prompt_tokens"`
	CompletionTokens int64             `json:"completion_tokens"`
	Cost             jsontext.Value    `json:"cost"`
	App              *apitype.UsageApp `json:"app"`
	AppID            *int64            `json:"app_id"`
	CreatedAt        string            `json:"created_at"` // RFC 3339; absent is now
}

// reportUsage serves POST /api/v1/usage: a proxy reports what requests
// cost, {"events":[…]} (usageEvent; at most keygate.MaxUsageEvents), with
// an operator's service token as bearer. 200
// {"data":{"accepted":N,"duplicates":N,"rejected":[{"id","error"}]}}: each
// event is judged alone (keygate.Service.ReportUsage), one that cannot be
// read is rejected naming the field. 401 for a missing or unknown service
// token, a user's key included; 400 for a body that is not {"events":[…]}
// or an empty batch; 413 above MaxBodyBytes; 503 when the store fails.
func (s *Server) reportUsage(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.AuthenticateService(r.Context(), bearer(r)); err != nil {
		return err
	}
	req, err := readJSON[struct {
		Events []jsontext.Value `json:"events"`
	}](w, r)
	if err != nil {
		return err
	}
	var events []keygate.UsageEvent
	var rejected []apitype.RejectedEvent
	for _, raw := range req.Events {
		e, err := usageEventOf(raw)
		if err != nil {
			var id struct {
				ID string `json:"id"`
			}
			json.Unmarshal(raw, &id)
			rejected = append(rejected, apitype.RejectedEvent{ID: id.ID, Error: keygate.ErrorMessage(err)})
			continue
		}
		events = append(events, e)
	}
	res := apitype.UsageResult{Rejected: []apitype.RejectedEvent{}}
	if len(events) > 0 || len(rejected) == 0 {
		start := time.Now()
		rep, err := s.svc.ReportUsage(r.Context(), events, s.cfg.Price)
		s.cfg.Metrics.UsageBatch(err, time.Since(start))
		if err != nil {
			return err
		}
		res.Accepted, res.Duplicates = rep.Accepted, rep.Duplicates
		for _, e := range rep.Rejected {
			res.Rejected = append(res.Rejected, apitype.RejectedEvent{ID: e.ID, Error: e.Error})
		}
	}
	res.Rejected = append(res.Rejected, rejected...)
	writeJSON(w, http.StatusOK, apitype.UsageResponse{Data: res})
	return nil
}

// usageEventOf reads one event. Errors are EINVALID naming the field.
func usageEventOf(raw jsontext.Value) (keygate.UsageEvent, error) {
	var in usageEvent
	if raw.Kind() != '{' {
		return keygate.UsageEvent{}, keygate.Errorf(keygate.EINVALID, "an event must be a JSON object")
	}
	if err := decodeJSON(raw, &in); err != nil {
		return keygate.UsageEvent{}, err
	}
	e := keygate.UsageEvent{
		ID: in.ID, KeyHash: in.KeyHash, Key: in.Key, Model: in.Model,
		PromptTokens: in.PromptTokens, CompletionTokens: in.CompletionTokens, AppID: in.AppID,
	}
	if len(in.Cost) > 0 && in.Cost.Kind() != 'n' {
		m, ok := keygate.MicrosFromUSDText(string(in.Cost))
		if in.Cost.Kind() != '0' || !ok {
			return e, keygate.Errorf(keygate.EINVALID, "cost must be a number of USD >= 0")
		}
		e.Cost = &m
	}
	if in.App != nil {
		e.App = &keygate.Attribution{Referer: in.App.Referer, Title: in.App.Title, Categories: in.App.Categories}
	}
	if in.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, in.CreatedAt)
		if err != nil {
			return e, keygate.Errorf(keygate.EINVALID, "created_at must be an RFC 3339 time")
		}
		e.CreatedAt = t
	}
	return e, nil
}
