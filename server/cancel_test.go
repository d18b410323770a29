package server_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate/server"
)

// TestClientGoneNotServerError: a request whose client hung up before the
// store answered (its context is cancelled) is not a server error: it is
// answered StatusClientClosed, never a 5xx, and logged once at DEBUG,
// never at ERROR; the API and the pages alike.
func TestClientGoneNotServerError(t *testing.T) {
	tests := []struct {
		name, method, path string
		header             []string
	}{
		{"api-list-keys", "GET", "/api/v1/keys", []string{"Authorization", "Bearer " + mgmtKeyPlaceholder}},
		{"page-login-with-session", "GET", "/login", []string{"Cookie", "keygate_session=" + strings.Repeat("s", 43)}},
		{"page-auth-with-session", "GET", "/auth?callback_url=" + cbLocal, []string{"Cookie", "keygate_session=" + strings.Repeat("s", 43)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.logs.Reset()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req := httptest.NewRequestWithContext(ctx, tt.method, tt.path, nil)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], strings.ReplaceAll(tt.header[i+1], mgmtKeyPlaceholder, e.mgmtKey))
			}
			rec := httptest.NewRecorder()
			server.New(e.svc, server.Config{PublicURL: "http://keygate.test"}, slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))).ServeHTTP(rec, req)
			if rec.Code != server.StatusClientClosed {
				t.Errorf("status = %d, want %d", rec.Code, server.StatusClientClosed)
			}
			logs := e.logs.String()
			if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "level=WARN") {
				t.Errorf("a hang-up was logged as a failure:\n%s", logs)
			}
			if n := strings.Count(logs, "request cancelled by the client"); n != 1 {
				t.Errorf("%d lines say the request was cancelled, want 1:\n%s", n, logs)
			}
		})
	}
}

// mgmtKeyPlaceholder stands for the env's management key in a table row.
const mgmtKeyPlaceholder = "{mgmt}"
