package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/sqlite"
)

// GET /api/v1/key is the request an app or a gateway sends to verify a key:
// the benchmarks below take it through the whole handler (routing, CORS,
// client IP, authentication, usage, JSON) and the JSON encoding alone.

// benchServer is a Server on a SQLite file with one ordinary key, cached
// together with its usage as after a first request.
func benchServer(b *testing.B) (*Server, string) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	u := &keygate.User{ID: uuid.NewString(), Email: "bench@example.com", PasswordHash: "!", CreatedAt: now}
	ws := &keygate.Workspace{ID: uuid.NewString(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: now}
	if err := db.CreateUser(ctx, u, ws); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(log))
	limit := 10.0
	secret, _, err := svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "bench key", LimitUSD: &limit, LimitReset: "monthly"})
	if err != nil {
		b.Fatal(err)
	}
	s := New(svc, Config{PublicURL: "http://keygate.test"}, log)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, keyRequest(secret))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET /api/v1/key = %d %s", rec.Code, rec.Body)
	}
	return s, secret
}

func keyRequest(secret string) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/key", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	return r
}

// discardWriter is a ResponseWriter that keeps nothing but its header map,
// emptied for each request, so that the benchmark counts the handler's
// allocations and not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

func BenchmarkCurrentKey(b *testing.B) {
	s, secret := benchServer(b)
	b.Run("recorder", func(b *testing.B) {
		r := keyRequest(secret)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	b.Run("handler", func(b *testing.B) {
		r := keyRequest(secret)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			s.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := keyRequest(secret)
			w := &discardWriter{h: http.Header{}}
			for pb.Next() {
				clear(w.h)
				s.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	})
}

// BenchmarkCurrentKeyJSON is the /key response's body alone: building it
// from the key and its usage, and encoding it.
func BenchmarkCurrentKeyJSON(b *testing.B) {
	s, secret := benchServer(b)
	ctx := context.Background()
	k, err := s.svc.Authenticate(ctx, secret)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.svc.KeyInfo(ctx, k)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			body := apitype.CurrentKeyResponse{Data: currentKeyBody(info)}
			buf = appendCurrentKeyResponse(buf[:0], &body)
		}
	})
	// encoding/json, as the body was encoded before the encoder above.
	b.Run("reflect", func(b *testing.B) {
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			writeJSON(w, http.StatusOK, apitype.CurrentKeyResponse{Data: currentKeyBody(info)})
		}
	})
}

// BenchmarkVerify is forward-auth's GET /api/v1/auth/verify through the
// whole handler: it must cost no more than GET /api/v1/key.
func BenchmarkVerify(b *testing.B) {
	s, secret := benchServer(b)
	r := httptest.NewRequest("GET", "/api/v1/auth/verify", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}
