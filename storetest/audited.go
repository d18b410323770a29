package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// auditedTests: an action and the audit event that records it are stored
// in one transaction: both, or neither.
var auditedTests = []test{
	{"CreateAuthCode", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		c := codeFor(ws)
		ev := auditFor(keygate.AuditCodeCreated, ws.UserID, 0)
		must(t, "CreateAuthCode", s.CreateAuthCode(ctx, c, ev))
		wantAudit(t, s, ev)

		// A code that cannot be stored leaves no event behind.
		dup := codeFor(ws)
		dup.Hash = c.Hash
		wantErr(t, "CreateAuthCode(same hash)", s.CreateAuthCode(ctx, dup, auditFor(keygate.AuditCodeCreated, ws.UserID, 1)), keygate.ErrConflict)
		gone := codeFor(ws)
		gone.WorkspaceID = newID()
		wantErr(t, "CreateAuthCode(no workspace)", s.CreateAuthCode(ctx, gone, auditFor(keygate.AuditCodeCreated, ws.UserID, 2)), keygate.ErrNotFound)
		wantAudit(t, s, ev)
	}},
	{"RedeemAuthCode", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		c := newCode(t, s, ws)
		k := keyFor(ws, at(time.Minute))
		ev := auditFor(keygate.AuditCodeExchanged, ws.UserID, 0)
		must(t, "RedeemAuthCode", s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), k, ev))
		wantAudit(t, s, ev)

		// A lost, missing or failed redemption leaves no event behind.
		wantErr(t, "RedeemAuthCode(again)", s.RedeemAuthCode(ctx, c.Hash, at(2*time.Minute), keyFor(ws, at(2*time.Minute)),
			auditFor(keygate.AuditCodeExchanged, ws.UserID, 1)), keygate.ErrCodeUsed)
		wantErr(t, "RedeemAuthCode(unknown)", s.RedeemAuthCode(ctx, keygate.HashSecret("nope"), at(2*time.Minute), keyFor(ws, at(2*time.Minute)),
			auditFor(keygate.AuditCodeExchanged, ws.UserID, 2)), keygate.ErrNotFound)
		other := newCode(t, s, ws)
		dup := keyFor(ws, at(2*time.Minute))
		dup.Hash = k.Hash
		wantErr(t, "RedeemAuthCode(duplicate key)", s.RedeemAuthCode(ctx, other.Hash, at(2*time.Minute), dup,
			auditFor(keygate.AuditCodeExchanged, ws.UserID, 3)), keygate.ErrConflict)
		wantAudit(t, s, ev)
	}},
	{"RedeemConcurrent", func(t *testing.T, s keygate.Store) {
		// 16 exchanges of one code at once: one wins, and only its event
		// is stored.
		const racers = 16
		ctx := t.Context()
		_, ws := newUser(t, s)
		c := newCode(t, s, ws)
		events := make([]*keygate.AuditEvent, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			events[i] = auditFor(keygate.AuditCodeExchanged, ws.UserID, i)
			wg.Go(func() {
				errs[i] = s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), keyFor(ws, at(time.Minute)), events[i])
			})
		}
		wg.Wait()
		var won []*keygate.AuditEvent
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, events[i])
			case !errors.Is(err, keygate.ErrCodeUsed):
				t.Fatalf("racer %d: RedeemAuthCode = %v, want nil or ErrCodeUsed", i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d racers redeemed the code, want 1", len(won))
		}
		wantAudit(t, s, won...)
	}},
	{"CreateSession", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		sess := &keygate.Session{TokenHash: keygate.HashSecret(keygate.NewToken()), UserID: u.ID, CSRFToken: keygate.NewToken(),
			CreatedAt: t0, ExpiresAt: at(time.Hour)}
		ev := auditFor(keygate.AuditLoginSucceeded, u.ID, 0)
		must(t, "CreateSession", s.CreateSession(ctx, sess, ev))
		wantAudit(t, s, ev)

		dup := *sess
		wantErr(t, "CreateSession(same hash)", s.CreateSession(ctx, &dup, auditFor(keygate.AuditLoginSucceeded, u.ID, 1)), keygate.ErrConflict)
		wantAudit(t, s, ev)
	}},
}

// auditFor returns an unsaved event of action by userID; n tells events
// of one test apart.
func auditFor(action, userID string, n int) *keygate.AuditEvent {
	app := int64(n + 1)
	return &keygate.AuditEvent{
		CreatedAt: at(time.Duration(n) * time.Second), Action: action, ActorUserID: userID,
		AppID: &app, KeyHashPrefix: "0123456789ab", ClientIP: "192.0.2.1", Detail: "event " + string(rune('a'+n%26)),
	}
}

// wantAudit checks that the store's audit trail is exactly want, each
// with the id the store set on it.
func wantAudit(t *testing.T, s keygate.Store, want ...*keygate.AuditEvent) {
	t.Helper()
	for _, e := range want {
		if e.ID == 0 {
			t.Errorf("audit event %s: ID not set by the store", e.Detail)
		}
	}
	got, err := s.ListAudit(t.Context(), 0)
	must(t, "ListAudit", err)
	newestFirst := make([]*keygate.AuditEvent, len(want))
	for i, e := range want {
		newestFirst[len(want)-1-i] = e
	}
	diff(t, "ListAudit", newestFirst, got)
}
