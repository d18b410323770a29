package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var federationTests = []test{
	{"PolicyRoundTrip", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		p, k := newPolicy(t, s, ws, at(0))
		got, err := s.FederationPolicy(ctx, p.ID)
		must(t, "FederationPolicy", err)
		diff(t, "FederationPolicy", p, got)
		wantUTC(t, "FederationPolicy", &got.CreatedAt)
		key, err := s.Key(ctx, k.Hash)
		must(t, "Key(the policy's)", err)
		diff(t, "Key(the policy's)", k, key)
		_, err = s.FederationPolicy(ctx, newID())
		wantErr(t, "FederationPolicy(unknown)", err, keygate.ErrNotFound)
	}},
	{"PolicyNeedsWorkspace", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		_, ws := newUser(t, s)
		gone := *ws
		gone.ID = newID()
		p, k := policyFor(&gone, at(0))
		wantErr(t, "CreateFederationPolicy(missing workspace)", s.CreateFederationPolicy(ctx, p, k), keygate.ErrNotFound)
		_, err := s.Key(ctx, k.Hash)
		wantErr(t, "Key(of the refused policy)", err, keygate.ErrNotFound)
	}},
	{"ListAndDelete", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, ws := newUser(t, s)
		_, other := newUser(t, s)
		b, _ := newPolicy(t, s, ws, at(time.Minute))
		a, _ := newPolicy(t, s, ws, at(0))
		c, _ := newPolicy(t, s, other, at(2*time.Minute))
		all, err := s.ListFederationPolicies(ctx, "")
		must(t, "ListFederationPolicies(every user's)", err)
		diff(t, "ListFederationPolicies(every user's)", []*keygate.FederationPolicy{a, b, c}, all)
		got, err := s.ListFederationPolicies(ctx, u.ID)
		must(t, "ListFederationPolicies", err)
		diff(t, "ListFederationPolicies (oldest first, the user's only)", []*keygate.FederationPolicy{a, b}, got)
		must(t, "DeleteFederationPolicy", s.DeleteFederationPolicy(ctx, a.ID))
		wantErr(t, "DeleteFederationPolicy(again)", s.DeleteFederationPolicy(ctx, a.ID), keygate.ErrNotFound)
		_, err = s.Key(ctx, a.KeyHash)
		must(t, "Key(of the deleted policy, kept)", err)
		must(t, "DeleteKey(b's)", s.DeleteKey(ctx, b.KeyHash))
		_, err = s.FederationPolicy(ctx, b.ID)
		wantErr(t, "FederationPolicy(its key deleted)", err, keygate.ErrNotFound)
	}},
	{"SubjectTokenOnce", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		iss := "https://token.actions.githubusercontent.com"
		must(t, "UseSubjectToken", s.UseSubjectToken(ctx, iss, "j1", at(time.Hour), at(0)))
		wantErr(t, "UseSubjectToken(replayed)", s.UseSubjectToken(ctx, iss, "j1", at(time.Hour), at(time.Minute)), keygate.ErrConflict)
		must(t, "UseSubjectToken(other issuer)", s.UseSubjectToken(ctx, "https://gitlab.example", "j1", at(time.Hour), at(0)))
		must(t, "UseSubjectToken(after expiry)", s.UseSubjectToken(ctx, iss, "j1", at(3*time.Hour), at(time.Hour)))
		wantErr(t, "UseSubjectToken(replayed again)", s.UseSubjectToken(ctx, iss, "j1", at(3*time.Hour), at(2*time.Hour)), keygate.ErrConflict)
	}},
	{"SubjectTokenConcurrent", func(t *testing.T, s keygate.Store) {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := s.UseSubjectToken(t.Context(), "https://issuer.example", "same", at(time.Hour), at(0))
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, keygate.ErrConflict) {
					t.Errorf("UseSubjectToken = %v, want nil or ErrConflict", err)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Errorf("%d of 8 concurrent UseSubjectToken won, want 1", n)
		}
	}},
	{"SigningKeys", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		keys, err := s.SigningKeys(ctx)
		must(t, "SigningKeys(none)", err)
		diff(t, "SigningKeys(none)", []*keygate.SigningKey(nil), keys)
		first := &keygate.SigningKey{ID: "k1", PrivateKey: []byte{1, 2, 3}, CreatedAt: at(0)}
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, first))
		wantErr(t, "CreateSigningKey(a second current)",
			s.CreateSigningKey(ctx, &keygate.SigningKey{ID: "k2", PrivateKey: []byte{4}, CreatedAt: at(time.Second)}), keygate.ErrConflict)
		second := &keygate.SigningKey{ID: "k3", PrivateKey: []byte{5, 6}, CreatedAt: at(time.Hour)}
		must(t, "RotateSigningKey", s.RotateSigningKey(ctx, second, at(time.Hour)))
		first.RetiredAt = ptr(at(time.Hour).UTC())
		keys, err = s.SigningKeys(ctx)
		must(t, "SigningKeys", err)
		diff(t, "SigningKeys (newest first, the old one retired)", []*keygate.SigningKey{second, first}, keys)
		wantUTC(t, "SigningKeys", &keys[0].CreatedAt, keys[1].RetiredAt)
	}},
}

// policyFor returns an unsaved policy of ws and its key.
func policyFor(ws *keygate.Workspace, created time.Time) (*keygate.FederationPolicy, *keygate.APIKey) {
	k := keyFor(ws, created)
	k.Name = "federation"
	k.Limit = ptr(keygate.Micros(5_000_000))
	k.LimitReset = keygate.ResetDaily
	p := &keygate.FederationPolicy{
		ID: newID(), UserID: ws.UserID, WorkspaceID: ws.ID, KeyHash: k.Hash,
		Issuer: "https://token.actions.githubusercontent.com", Audience: "keygate",
		Subject: "repo:octo-org/*", Claims: map[string]string{"ref": "refs/heads/main", "kubernetes.io/namespace": "prod"},
		TokenTTL: 10 * time.Minute, CreatedAt: created,
	}
	return p, k
}

func newPolicy(t *testing.T, s keygate.Store, ws *keygate.Workspace, created time.Time) (*keygate.FederationPolicy, *keygate.APIKey) {
	t.Helper()
	p, k := policyFor(ws, created)
	must(t, "CreateFederationPolicy", s.CreateFederationPolicy(t.Context(), p, k))
	return p, k
}
