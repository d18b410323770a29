package keygate_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// brokenRevoke is a real store whose writes of a key fail, as a store that
// went away mid-replay would. With redeemLost, RedeemAuthCode reports that
// another exchange won the code, and reading the redeemed code fails too.
type brokenRevoke struct {
	keygate.Store
	redeemLost bool
}

var errStoreDown = errors.New("connection reset by peer")

func (s *brokenRevoke) UpdateKey(context.Context, string, keygate.KeyPatch) (before, after *keygate.APIKey, err error) {
	return nil, nil, errStoreDown
}

func (s *brokenRevoke) AuthCode(ctx context.Context, hash string) (*keygate.AuthCode, error) {
	c, err := s.Store.AuthCode(ctx, hash)
	if err == nil && c.UsedAt != nil && s.redeemLost {
		return nil, errStoreDown
	}
	return c, err
}

func (s *brokenRevoke) RedeemAuthCode(ctx context.Context, hash string, usedAt time.Time, k *keygate.APIKey, audit *keygate.AuditEvent) error {
	if err := s.Store.RedeemAuthCode(ctx, hash, usedAt, k, audit); err != nil || !s.redeemLost {
		return err
	}
	return keygate.ErrCodeUsed
}

// TestReplayRevokeFailure: when the key of a replayed code cannot be
// revoked because the store fails, the failure is logged at ERROR and
// audited, and the replay gets the answer it always gets.
func TestReplayRevokeFailure(t *testing.T) {
	tests := []struct {
		name       string
		redeemLost bool // the failure comes re-reading the code after losing the race
		exchanges  int
	}{
		{"sequential-replay", false, 2},
		{"lost-race", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var logs bytes.Buffer
			svc := keygate.NewService(&brokenRevoke{Store: f.store, redeemLost: tt.redeemLost}, keygate.DefaultConfig(),
				keygate.WithClock(f.clock.Now), keygate.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			code, err := svc.CreateAuthCode(f.ctx, keygate.Actor{UserID: f.user.ID}, &keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb"}, keygate.Attribution{})
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for range tt.exchanges {
				_, last = svc.ExchangeAuthCode(f.ctx, &keygate.ExchangeRequest{Code: code.Code})
			}
			wantCode(t, last, keygate.EFORBIDDEN, keygate.MsgInvalidCode)
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), errStoreDown.Error()) {
				t.Errorf("logs = %s, want an ERROR line with the store's error", logs.String())
			}
			events, err := f.store.ListAudit(f.ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if events[0].Action != keygate.AuditReplayRevokeFailed || events[0].ActorUserID != f.user.ID {
				t.Errorf("last audit event = %+v, want %s for the code's user", events[0], keygate.AuditReplayRevokeFailed)
			}
		})
	}
}

// TestExchangeOnAnotherProcess: a code is exchanged on a process other
// than the one that made it (another replica), and then on the one that
// made it, which still remembers the code unused. The store's conditional
// update decides: the second exchange is a replay, refused, and the key
// the first minted is disabled; the code's maker then reads the store.
func TestExchangeOnAnotherProcess(t *testing.T) {
	f := newFixture(t)
	other := keygate.NewService(f.store, keygate.DefaultConfig(), keygate.WithClock(f.clock.Now),
		keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	code, err := f.svc.CreateAuthCode(f.ctx, keygate.Actor{UserID: f.user.ID},
		&keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb"}, keygate.Attribution{})
	if err != nil {
		t.Fatal(err)
	}
	won, err := other.ExchangeAuthCode(f.ctx, &keygate.ExchangeRequest{Code: code.Code})
	if err != nil {
		t.Fatalf("exchange on the other process: %v", err)
	}
	for i := range 2 { // from memory, then from the store
		_, err := f.svc.ExchangeAuthCode(f.ctx, &keygate.ExchangeRequest{Code: code.Code})
		wantCode(t, err, keygate.EFORBIDDEN, keygate.MsgInvalidCode)
		k, err := f.store.Key(f.ctx, won.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !k.Disabled {
			t.Errorf("replay %d: the key the first exchange minted is not disabled", i+1)
		}
	}
	c, err := f.store.AuthCode(f.ctx, keygate.HashSecret(code.Code))
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyHash != won.Hash {
		t.Errorf("code's key = %s, want the first exchange's %s", c.KeyHash, won.Hash)
	}
}
