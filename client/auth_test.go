package client_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/pkce"
	"github.com/keygate/keygate/server"
)

func TestCodeFlow(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	c := kg.client(kg.userKey, client.WithAttribution("https://myapp.example", "My App", "cli-agent", "cloud-agent"))
	verifier := pkce.NewVerifier()
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	code, err := c.CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{
		CallbackURL:         "http://localhost:3000/callback",
		CodeChallenge:       pkce.ChallengeS256(verifier),
		CodeChallengeMethod: "S256",
		Limit:               ptr(25.0),
		UsageLimitType:      "weekly",
		ExpiresAt:           ptr(expires.Format(time.RFC3339)),
		KeyLabel:            "CI key",
	})
	if err != nil {
		t.Fatal(err)
	}
	if code.ID == "" || code.AppID == 0 || code.CreatedAt == "" {
		t.Fatalf("CreateAuthCode = %+v, want id, app_id and created_at", code)
	}
	app, err := kg.db.App(ctx, code.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if app.URL != "https://myapp.example" || app.Title != "My App" || strings.Join(app.Categories, ",") != "cli-agent,cloud-agent" {
		t.Errorf("app = %q %q %q, want the attribution sent", app.URL, app.Title, app.Categories)
	}

	// The exchange needs no key.
	res, err := kg.client("").ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{
		Code: code.ID, CodeVerifier: verifier, CodeChallengeMethod: ptr("S256"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Key, "sk-kg-v1-") || res.UserID == nil || *res.UserID != kg.user.ID {
		t.Fatalf("exchange = key %.9s… user %v, want sk-kg-v1-… and %s", res.Key, res.UserID, kg.user.ID)
	}

	got, err := kg.client(res.Key).GetCurrentKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Label != "CI key" || got.Limit == nil || *got.Limit != 25 || got.LimitRemaining == nil || *got.LimitRemaining != 25 ||
		got.LimitReset == nil || *got.LimitReset != "weekly" || got.IsManagementKey {
		t.Errorf("GetCurrentKey = %+v, want label CI key, limit 25 weekly", got)
	}
	if got.ExpiresAt == nil {
		t.Fatal("expires_at = null, want the requested expiry")
	}
	if e, err := time.Parse(time.RFC3339, *got.ExpiresAt); err != nil || !e.Equal(expires) {
		t.Errorf("expires_at = %s, want %s", *got.ExpiresAt, expires.Format(time.RFC3339))
	}

	// A second exchange is a replay: refused, and the key it issued stops working.
	_, err = kg.client("").ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{Code: code.ID, CodeVerifier: verifier})
	if !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("second exchange: err = %v, want ErrForbidden", err)
	}
	if _, err := kg.client(res.Key).GetCurrentKey(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("GetCurrentKey with the replayed code's key: err = %v, want ErrUnauthorized", err)
	}
}

func TestCodeFlowWithoutPKCE(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	code, err := kg.client(kg.userKey).CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{CallbackURL: "https://app.example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := kg.client("").ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{Code: code.ID})
	if err != nil {
		t.Fatal(err)
	}
	got, err := kg.client(res.Key).GetCurrentKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Limit != nil || got.LimitRemaining != nil || got.ExpiresAt != nil {
		t.Errorf("GetCurrentKey = limit %v remaining %v expires %v, want all null", got.Limit, got.LimitRemaining, got.ExpiresAt)
	}
}

// TestErrors triggers each typed error on the real server and checks that
// errors.Is matches its sentinel only, and that *Error carries the status
// and the server's message.
func TestErrors(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	verifier := pkce.NewVerifier()
	newCode := func() string {
		code, err := kg.client(kg.userKey).CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{
			CallbackURL: "http://localhost:3000/cb", CodeChallenge: pkce.ChallengeS256(verifier), CodeChallengeMethod: "S256",
		})
		if err != nil {
			t.Fatal(err)
		}
		return code.ID
	}
	tests := []struct {
		name    string
		call    func() error
		want    error
		status  int
		message string // a part of the server's message
	}{
		{"bad-callback", func() error {
			_, err := kg.client(kg.userKey).CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{CallbackURL: "javascript:alert(1)"})
			return err
		}, client.ErrBadRequest, 400, "callback_url"},
		{"bad-method", func() error {
			_, err := kg.client(kg.userKey).CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{
				CallbackURL: "http://localhost:3000/cb", CodeChallenge: pkce.ChallengeS256(verifier), CodeChallengeMethod: "s256",
			})
			return err
		}, client.ErrBadRequest, 400, "code_challenge_method"},
		{"exchange-wrong-method", func() error {
			_, err := kg.client("").ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{Code: newCode(), CodeVerifier: verifier, CodeChallengeMethod: ptr("plain")})
			return err
		}, client.ErrBadRequest, 400, "Invalid code_challenge_method"},
		{"no-key", func() error { _, err := kg.client("").GetCurrentKey(ctx); return err }, client.ErrUnauthorized, 401, "Missing Authentication header"},
		{"unknown-key", func() error {
			_, err := kg.client("sk-kg-v1-" + strings.Repeat("0", 64)).GetCurrentKey(ctx)
			return err
		}, client.ErrUnauthorized, 401, "Invalid API key"},
		{"create-code-no-key", func() error {
			_, err := kg.client("").CreateAuthCode(ctx, &apitype.CreateAuthKeysCodeRequest{CallbackURL: "http://localhost:3000/cb"})
			return err
		}, client.ErrUnauthorized, 401, "Missing Authentication header"},
		{"exchange-wrong-verifier", func() error {
			_, err := kg.client("").ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{Code: newCode(), CodeVerifier: pkce.NewVerifier()})
			return err
		}, client.ErrForbidden, 403, "Invalid code or code_verifier"},
		{"exchange-unknown-code", func() error {
			_, err := kg.client("").ExchangeAuthCodeForAPIKey(ctx, &apitype.ExchangeAuthCodeRequest{Code: "does-not-exist", CodeVerifier: verifier})
			return err
		}, client.ErrForbidden, 403, "Invalid code or code_verifier"},
	}
	sentinels := []error{client.ErrBadRequest, client.ErrUnauthorized, client.ErrForbidden, client.ErrNotFound,
		client.ErrConflict, client.ErrRateLimited, client.ErrServer}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			checkError(t, err, tt.want, tt.status, tt.message, sentinels)
		})
	}
}

// checkError checks that err is an *Error with status and a message
// containing message, matching want and no other sentinel.
func checkError(t *testing.T, err, want error, status int, message string, sentinels []error) {
	t.Helper()
	e, ok := errors.AsType[*client.Error](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *client.Error", err, err)
	}
	if e.StatusCode != status || e.Code != status || !strings.Contains(e.Message, message) {
		t.Errorf("err = %+v, want status and code %d, message containing %q", e, status, message)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
		}
	}
}

func TestCreateAuthorizationURL(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		base string
		p    client.AuthorizationURLParams
		want string
	}{
		{"minimal", "https://openrouter.ai/api/v1", client.AuthorizationURLParams{CallbackURL: "http://localhost:3000/cb"},
			"https://openrouter.ai/auth?callback_url=http%3A%2F%2Flocalhost%3A3000%2Fcb"},
		{"root-of-origin-whatever-the-base-path", "http://127.0.0.1:8080/prefix/api/v1/", client.AuthorizationURLParams{CallbackURL: "https://app.example/cb"},
			"http://127.0.0.1:8080/auth?callback_url=https%3A%2F%2Fapp.example%2Fcb"},
		{"every-field", "http://127.0.0.1:8080/api/v1", client.AuthorizationURLParams{
			CallbackURL:         "http://127.0.0.1:5000/callback?state=a b&x=1",
			CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			CodeChallengeMethod: "S256",
			Limit:               ptr(0.5),
			KeyLabel:            "My CLI & more",
			ExpiresAt:           expires,
			UsageLimitType:      "monthly",
			WorkspaceID:         "3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f",
			State:               "st+1 /=",
		}, "http://127.0.0.1:8080/auth?callback_url=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback%3Fstate%3Da+b%26x%3D1" +
			"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256" +
			"&expires_at=2030-01-02T02%3A04%3A05Z&key_label=My+CLI+%26+more&limit=0.5" +
			"&state=st%2B1+%2F%3D&usage_limit_type=monthly&workspace_id=3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f"},
		{"limit-zero-is-a-cap", "http://h/api/v1", client.AuthorizationURLParams{CallbackURL: "https://a.example/cb", Limit: ptr(0.0)},
			"http://h/auth?callback_url=https%3A%2F%2Fa.example%2Fcb&limit=0"},
		{"headless", "http://h/api/v1", client.AuthorizationURLParams{CodeChallenge: "c", CodeChallengeMethod: "S256"},
			"http://h/auth?code_challenge=c&code_challenge_method=S256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.New(tt.base).CreateAuthorizationURL(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("CreateAuthorizationURL =\n%s\nwant\n%s", got, tt.want)
			}
			// The callback survives the round trip byte for byte.
			u, _ := url.Parse(got)
			if cb := u.Query().Get("callback_url"); cb != tt.p.CallbackURL {
				t.Errorf("callback_url = %q, want %q", cb, tt.p.CallbackURL)
			}
		})
	}
}

func TestCreateAuthorizationURLErrors(t *testing.T) {
	tests := []struct {
		name string
		base string
		p    client.AuthorizationURLParams
	}{
		{"nothing-to-authorize", "http://h/api/v1", client.AuthorizationURLParams{Limit: ptr(1.0)}},
		{"relative-base", "/api/v1", client.AuthorizationURLParams{CallbackURL: "https://a.example/cb"}},
		{"ftp-base", "ftp://h/api/v1", client.AuthorizationURLParams{CallbackURL: "https://a.example/cb"}},
		{"no-host", "http:///api/v1", client.AuthorizationURLParams{CallbackURL: "https://a.example/cb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := client.New(tt.base).CreateAuthorizationURL(tt.p); err == nil {
				t.Errorf("CreateAuthorizationURL = %q, want an error", got)
			}
		})
	}
}

func TestBadBaseURL(t *testing.T) {
	_, err := client.New("keygate.example/api/v1").GetCurrentKey(context.Background())
	if err == nil || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("GetCurrentKey with a bad base URL: err = %v, want one naming the base URL", err)
	}
}

// TestServerError: a keygate whose database is gone answers 500, which is
// ErrServer and not retried.
func TestServerError(t *testing.T) {
	kg := newKeygate(t)
	kg.db.Close()
	_, err := kg.client(kg.userKey).GetCurrentKey(context.Background())
	checkError(t, err, client.ErrServer, 500, "Internal Server Error", []error{client.ErrBadRequest, client.ErrUnauthorized,
		client.ErrForbidden, client.ErrNotFound, client.ErrConflict, client.ErrRateLimited, client.ErrServer})
}

// TestRateLimited: keygate limits code requests per client address; the
// 429 is ErrRateLimited, and a POST is not retried.
func TestRateLimited(t *testing.T) {
	kg := newKeygate(t, func(c *server.Config) { c.RateLimit = 0.1 }) // a burst of one request
	c := kg.client(kg.userKey)
	req := &apitype.CreateAuthKeysCodeRequest{CallbackURL: "http://localhost:3000/cb"}
	if _, err := c.CreateAuthCode(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAuthCode(context.Background(), req)
	checkError(t, err, client.ErrRateLimited, 429, "Too many requests", []error{client.ErrBadRequest, client.ErrUnauthorized,
		client.ErrForbidden, client.ErrNotFound, client.ErrConflict, client.ErrRateLimited, client.ErrServer})
}
