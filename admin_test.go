package keygate_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func TestKeyByHashOperations(t *testing.T) {
	f := newFixture(t)
	bob := f.newUser("bob@example.com")
	_, k := f.newKey(keygate.NewKeyParams{UserID: bob.ID, Name: "bob's"})
	tests := []struct {
		name, hash, code, msg string
	}{
		{"whole-hash", k.Hash, "", ""},
		{"prefix", k.Hash[:12], keygate.EINVALID, "hash"},
		{"upper-case", "A" + k.Hash[1:], keygate.EINVALID, "hash"},
		{"unknown", "0000000000000000000000000000000000000000000000000000000000000000", keygate.ENOTFOUND, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.SetKeyDisabledByHash(f.ctx, tt.hash, true)
			wantCode(t, err, tt.code, tt.msg)
			if tt.code == "" && (!got.Disabled || got.UserID != bob.ID) {
				t.Fatalf("SetKeyDisabledByHash = %+v, want bob's key disabled", got)
			}
			if tt.code == "" {
				if got, err = f.svc.SetKeyDisabledByHash(f.ctx, tt.hash, false); err != nil || got.Disabled {
					t.Fatalf("SetKeyDisabledByHash(enable) = %+v, %v", got, err)
				}
			}
		})
	}
	del, err := f.svc.DeleteKeyByHash(f.ctx, k.Hash)
	if err != nil || del.Hash != k.Hash {
		t.Fatalf("DeleteKeyByHash = %+v, %v", del, err)
	}
	_, err = f.svc.DeleteKeyByHash(f.ctx, k.Hash)
	wantCode(t, err, keygate.ENOTFOUND, "not found")
	events, err := f.store.ListAudit(f.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		if e.KeyHashPrefix == k.Hash[:12] && e.ActorUserID == bob.ID {
			actions = append(actions, e.Action)
		}
	}
	want := []string{keygate.AuditKeyDeleted, keygate.AuditKeyUpdated, keygate.AuditKeyDisabled, keygate.AuditKeyCreated}
	if len(actions) != len(want) {
		t.Fatalf("audit of bob's key = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audit of bob's key = %v, want %v", actions, want)
		}
	}
}

// TestSweepAuthCodes checks the retention rule: a code goes once it has
// been expired for UsedCodeRetention, not before.
func TestSweepAuthCodes(t *testing.T) {
	f := newFixture(t)
	code, err := f.svc.CreateAuthCode(f.ctx, keygate.Actor{UserID: f.user.ID}, &keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb"}, keygate.Attribution{})
	if err != nil {
		t.Fatal(err)
	}
	expiry := f.clock.Now().Add(keygate.DefaultConfig().CodeTTL)
	for _, tt := range []struct {
		at   time.Time
		want int64
	}{
		{expiry, 0},
		{expiry.Add(keygate.UsedCodeRetention), 0},
		{expiry.Add(keygate.UsedCodeRetention + time.Second), 1},
	} {
		f.clock.Set(tt.at)
		n, err := f.svc.SweepAuthCodes(f.ctx)
		if err != nil || n != tt.want {
			t.Fatalf("SweepAuthCodes at %v = %d, %v; want %d", tt.at, n, err, tt.want)
		}
	}
	if _, err := f.store.AuthCode(f.ctx, keygate.HashSecret(code.Code)); err == nil {
		t.Fatal("the swept code is still stored")
	}
}
