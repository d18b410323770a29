package client_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/sqlite"
)

// testHasher keeps password hashing cheap in tests.
var testHasher = keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

const (
	testEmail    = "alice@example.com"
	testPassword = "correct horse battery staple"
)

// testKeygate is a real keygate server on a SQLite file, with one user, an
// ordinary key of theirs and a management key.
type testKeygate struct {
	srv     *httptest.Server
	svc     *keygate.Service
	db      *sqlite.DB
	user    *keygate.User
	userKey string
	mgmtKey string
	// APIBase is the base URL for client.New.
	APIBase string
	dir     string // removed by Close when not ""
}

// startKeygate starts a keygate whose database lives in dir; opts adjust
// the HTTP layer's settings.
func startKeygate(dir string, opts ...func(*server.Config)) (*testKeygate, error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "keygate.db"))
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(log), keygate.WithPasswordHasher(testHasher))
	// The handler needs the server's URL (CSRF checks compare origins), which
	// exists only once it listens.
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	cfg := server.Config{PublicURL: srv.URL}
	for _, o := range opts {
		o(&cfg)
	}
	h = server.New(svc, cfg, log)
	kg := &testKeygate{srv: srv, svc: svc, db: db, APIBase: srv.URL + "/api/v1"}
	if kg.user, err = svc.CreateUser(ctx, testEmail, testPassword); err != nil {
		kg.Close()
		return nil, err
	}
	if kg.userKey, _, err = svc.CreateKey(ctx, keygate.NewKeyParams{UserID: kg.user.ID, Name: "user key"}); err != nil {
		kg.Close()
		return nil, err
	}
	if kg.mgmtKey, _, err = svc.CreateKey(ctx, keygate.NewKeyParams{UserID: kg.user.ID, Name: "mgmt", IsManagement: true}); err != nil {
		kg.Close()
		return nil, err
	}
	return kg, nil
}

// mustStartKeygate is startKeygate in a fresh temporary directory, for
// examples, which have no *testing.T.
func mustStartKeygate() *testKeygate {
	dir, err := os.MkdirTemp("", "keygate-example")
	if err != nil {
		panic(err)
	}
	kg, err := startKeygate(dir)
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	kg.dir = dir
	return kg
}

func (kg *testKeygate) Close() {
	kg.srv.Close()
	kg.db.Close()
	if kg.dir != "" {
		os.RemoveAll(kg.dir)
	}
}

// newKeygate starts a keygate for t.
func newKeygate(t *testing.T, opts ...func(*server.Config)) *testKeygate {
	t.Helper()
	kg, err := startKeygate(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kg.Close)
	return kg
}

// client returns a client of kg with key (none when "").
func (kg *testKeygate) client(key string, opts ...client.Option) *client.Client {
	if key != "" {
		opts = append([]client.Option{client.WithAPIKey(key)}, opts...)
	}
	return client.New(kg.APIBase, opts...)
}

func ptr[T any](v T) *T { return &v }

// approveInBrowser signs in as the test user and approves the request at
// authURL, as a person would in the browser that client.Login opens.
func (kg *testKeygate) approveInBrowser(authURL string) error {
	return newUserAgent(kg.srv.URL, testEmail, testPassword).approve(authURL)
}

// URL is the keygate's site root.
func (kg *testKeygate) URL() string { return kg.srv.URL }
