package server

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// createAuthCode serves POST /api/v1/auth/keys/code (OpenRouter
// createAuthKeysCode): a user's key asks for a one-time code.
func (s *Server) createAuthCode(w http.ResponseWriter, r *http.Request) error {
	key, err := s.authenticate(r)
	if err != nil {
		return err
	}
	body, err := readJSON[apitype.CreateAuthKeysCodeRequest](w, r)
	if err != nil {
		return err
	}
	req := &keygate.AuthCodeRequest{
		CallbackURL:         body.CallbackURL,
		CodeChallenge:       body.CodeChallenge,
		CodeChallengeMethod: body.CodeChallengeMethod,
		Limit:               body.Limit,
		ExpiresAt:           body.ExpiresAt,
		KeyLabel:            body.KeyLabel,
		UsageLimitType:      body.UsageLimitType,
		WorkspaceID:         body.WorkspaceID,
	}
	code, err := s.svc.CreateAuthCode(r.Context(), keygate.Actor{UserID: key.UserID, Key: key}, req, attribution(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.CreateAuthKeysCodeResponse{Data: apitype.AuthCode{
		ID:        code.Code,
		AppID:     code.AppID,
		CreatedAt: formatTime(code.CreatedAt),
	}})
	return nil
}

// maxExchangeBody caps the body of the exchange, the one endpoint with a
// body that anyone may call without a key: its three short fields fit many
// times over, and a stranger cannot make the server hold a mebibyte per
// connection.
const maxExchangeBody = 64 << 10

// exchangeAuthCode serves POST /api/v1/auth/keys (OpenRouter
// exchangeAuthCodeForAPIKey). No bearer: the code and verifier are the
// proof. JSON and form bodies are accepted, at most maxExchangeBody bytes.
func (s *Server) exchangeAuthCode(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxExchangeBody)
	b, kind, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var body apitype.ExchangeAuthCodeRequest
	if kind == bodyForm {
		v, err := formValues(b)
		if err != nil {
			return err
		}
		body.Code, body.CodeVerifier = v.Get("code"), v.Get("code_verifier")
		if v.Has("code_challenge_method") {
			m := v.Get("code_challenge_method")
			body.CodeChallengeMethod = &m
		}
	} else if err := decodeJSON(b, &body); err != nil {
		return err
	}
	res, err := s.svc.ExchangeAuthCode(r.Context(), &keygate.ExchangeRequest{
		Code:                body.Code,
		CodeVerifier:        body.CodeVerifier,
		CodeChallengeMethod: body.CodeChallengeMethod,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.ExchangeAuthCodeResponse{Key: res.Key, UserID: &res.UserID})
	return nil
}

// currentKey serves GET /api/v1/key (OpenRouter getCurrentKey). A key past
// its limit still answers, so an app can show why; a disabled or expired one
// is 401.
func (s *Server) currentKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.authenticate(r)
	if err != nil {
		return err
	}
	info, err := s.svc.KeyInfo(r.Context(), key)
	if err != nil {
		return err
	}
	body := apitype.CurrentKeyResponse{Data: currentKeyBody(info)}
	writeAppended(w, http.StatusOK, func(b []byte) []byte { return appendCurrentKeyResponse(b, &body) })
	return nil
}

func currentKeyBody(info *keygate.KeyInfo) apitype.CurrentKey {
	k := info.Key
	creator, ws := k.CreatorUserID, k.WorkspaceID
	return apitype.CurrentKey{
		Label:              k.Label,
		KeySpending:        spendingBody(info),
		IsManagementKey:    k.IsManagement,
		IsProvisioningKey:  k.IsManagement,
		ExpiresAt:          timePtr(k.ExpiresAt),
		CreatorUserID:      &creator,
		WorkspaceID:        &ws,
		AllowedDataRegions: []string{},
		RateLimit:          apitype.RateLimit{Requests: -1, Interval: "10s", Note: "This field is deprecated and safe to ignore."},
	}
}

// formatTime renders t as RFC 3339 in UTC with millisecond precision, the
// form OpenRouter answers with.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func timePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func usdPtr(m *keygate.Micros) *float64 {
	if m == nil {
		return nil
	}
	v := m.USD()
	return &v
}

func resetPtr(r keygate.LimitReset) *string {
	if r == keygate.ResetNone {
		return nil
	}
	s := string(r)
	return &s
}

// parseQueryLimit parses a limit from a query string, in USD.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func parseQueryLimit(v string) (*float64, error) {
	if v == "" {
		return nil, nil
	}
	// The JSON number grammar (RFC 8259 §6), as in the API's body: no hex,
	// no underscores, no leading '+', no Inf or NaN.
	if !jsonNumber.MatchString(v) {
		return nil, keygate.Errorf(keygate.EINVALID, "limit must be a number")
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "limit must be a number")
	}
	return &f, nil
}
