package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keygate/keygate/pkce"
)

// The app a sign-in is for. Its origin identifies it (keygate.AppFrom).
const (
	flowReferer  = "https://bench-app.example.com/"
	flowCallback = "https://bench-app.example.com/callback"
)

// signinPath is the URL path of the pseudo-request that stands for one
// sign-in: signinTransport turns it into the code request and the
// exchange, so that vegeta times and counts the sign-in as one hit.
const signinPath = "/bench/sign-in"

// signinTransport performs a whole sign-in for each request it is given:
// POST /api/v1/auth/keys/code with the user's key and a fresh S256
// challenge, then POST /api/v1/auth/keys with the code and its verifier.
// The exchange's answer is the answer; a failed code request is answered
// as it came.
type signinTransport struct {
	base    http.RoundTripper
	url     string
	userKey string
}

func (t *signinTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	verifier := pkce.NewVerifier()
	body, _ := json.Marshal(map[string]string{
		"callback_url":          flowCallback,
		"code_challenge":        pkce.ChallengeS256(verifier),
		"code_challenge_method": string(pkce.S256),
	})
	codeReq, err := http.NewRequestWithContext(req.Context(), http.MethodPost, t.url+"/api/v1/auth/keys/code", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	codeReq.Header.Set("Authorization", "Bearer "+t.userKey)
	codeReq.Header.Set("Content-Type", "application/json")
	codeReq.Header.Set("HTTP-Referer", flowReferer)
	codeReq.Header.Set("X-OpenRouter-Title", "Bench app")
	res, err := t.base.RoundTrip(codeReq)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body = io.NopCloser(bytes.NewReader(b))
		return res, nil
	}
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.Data.ID == "" {
		return nil, fmt.Errorf("code request: unreadable answer")
	}
	body, _ = json.Marshal(map[string]string{
		"code":                  created.Data.ID,
		"code_verifier":         verifier,
		"code_challenge_method": string(pkce.S256),
	})
	exReq, err := http.NewRequestWithContext(req.Context(), http.MethodPost, t.url+"/api/v1/auth/keys", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	exReq.Header.Set("Content-Type", "application/json")
	return t.base.RoundTrip(exReq)
}

// signinLoad is conns workers each signing in again and again with the
// user's key.
func (b *bench) signinLoad(p *process, userKey string, conns int) load {
	tr := &http.Transport{
		Proxy:               noProxy,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
	}
	return load{
		conns: conns, duration: b.opt.duration, maxHits: b.opt.maxHits,
		target: func(t *vegeta.Target) error {
			t.Method, t.URL = http.MethodPost, p.URL()+signinPath
			return nil
		},
		client: &http.Client{Transport: &signinTransport{base: tr, url: p.URL(), userKey: userKey}, Timeout: 30 * time.Second},
		ok:     func(body []byte) bool { return strings.Contains(string(body), `"key":"sk-kg-v1-`) },
	}
}
