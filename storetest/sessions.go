package storetest

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var sessionTests = []test{
	{"RoundTrip", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		sess := newSession(t, s, u.ID, at(time.Hour))
		got, err := s.Session(t.Context(), sess.TokenHash)
		must(t, "Session", err)
		diff(t, "Session", sess, got)
		wantUTC(t, "Session", &got.CreatedAt, &got.ExpiresAt)
	}},
	{"ExpiredIsReturned", func(t *testing.T, s keygate.Store) {
		// Expiry is the caller's to judge, against its own clock.
		u, _ := newUser(t, s)
		sess := newSession(t, s, u.ID, at(-time.Hour))
		got, err := s.Session(t.Context(), sess.TokenHash)
		must(t, "Session(expired)", err)
		diff(t, "Session(expired)", sess, got)
	}},
	{"Conflict", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		sess := newSession(t, s, u.ID, at(time.Hour))
		dup := *sess
		dup.CSRFToken = keygate.NewToken()
		wantErr(t, "CreateSession(same hash)", s.CreateSession(t.Context(), &dup, nil), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		newSession(t, s, u.ID, at(time.Hour))
		_, err := s.Session(t.Context(), keygate.HashSecret("unknown"))
		wantErr(t, "Session(unknown)", err, keygate.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		sess := newSession(t, s, u.ID, at(time.Hour))
		keep := newSession(t, s, u.ID, at(time.Hour))
		must(t, "DeleteSession", s.DeleteSession(ctx, sess.TokenHash))
		_, err := s.Session(ctx, sess.TokenHash)
		wantErr(t, "Session(deleted)", err, keygate.ErrNotFound)
		wantErr(t, "DeleteSession(again)", s.DeleteSession(ctx, sess.TokenHash), keygate.ErrNotFound)
		_, err = s.Session(ctx, keep.TokenHash)
		wantErr(t, "Session(other)", err, nil)
	}},
}

func newSession(t *testing.T, s keygate.Store, userID string, expires time.Time) *keygate.Session {
	t.Helper()
	sess := &keygate.Session{
		TokenHash: keygate.HashSecret(keygate.NewToken()),
		UserID:    userID,
		CSRFToken: keygate.NewToken(),
		CreatedAt: t0,
		ExpiresAt: expires,
	}
	must(t, "CreateSession", s.CreateSession(t.Context(), sess, nil))
	return sess
}

var auditTests = []test{
	{"Empty", func(t *testing.T, s keygate.Store) {
		got, err := s.ListAudit(t.Context(), 10)
		must(t, "ListAudit", err)
		if len(got) != 0 {
			t.Errorf("ListAudit(10) on an empty store = %d events, want 0", len(got))
		}
	}},
	{"AppendList", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		app := newApp(t, s, "https://chat.example.com")
		events := []*keygate.AuditEvent{
			{CreatedAt: t0, Action: keygate.AuditLoginSucceeded, ActorUserID: u.ID, ClientIP: "192.0.2.7"},
			{
				CreatedAt: at(time.Minute), Action: keygate.AuditReplayDetected, ActorUserID: u.ID,
				AppID: ptr(app.ID), KeyHashPrefix: "3fa9c1d2", ClientIP: "2001:db8::1",
				Detail: "second exchange with the right verifier; key disabled",
			},
			{CreatedAt: at(2 * time.Minute), Action: keygate.AuditLoginFailed, ClientIP: "198.51.100.3"},
		}
		seen := map[int64]bool{}
		for _, e := range events {
			must(t, "AppendAudit", s.AppendAudit(ctx, e))
			if e.ID == 0 || seen[e.ID] {
				t.Fatalf("AppendAudit set ID %d, want a new non-zero id", e.ID)
			}
			seen[e.ID] = true
		}
		newestFirst := []*keygate.AuditEvent{events[2], events[1], events[0]}

		got, err := s.ListAudit(ctx, 10)
		must(t, "ListAudit(10)", err)
		diff(t, "ListAudit(10)", newestFirst, got)
		for _, e := range got {
			wantUTC(t, "ListAudit", &e.CreatedAt)
		}
		got, err = s.ListAudit(ctx, 2)
		must(t, "ListAudit(2)", err)
		diff(t, "ListAudit(2)", newestFirst[:2], got)
	}},
	{"SameTime", func(t *testing.T, s keygate.Store) {
		// Events stamped alike come back last-appended first.
		a := &keygate.AuditEvent{CreatedAt: t0, Action: keygate.AuditKeyCreated}
		b := &keygate.AuditEvent{CreatedAt: t0, Action: keygate.AuditKeyDisabled}
		must(t, "AppendAudit", s.AppendAudit(t.Context(), a))
		must(t, "AppendAudit", s.AppendAudit(t.Context(), b))
		got, err := s.ListAudit(t.Context(), 10)
		must(t, "ListAudit", err)
		diff(t, "ListAudit", []*keygate.AuditEvent{b, a}, got)
	}},
}
