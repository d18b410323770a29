package storetest

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var serviceTokenTests = []test{
	{"RoundTrip", func(t *testing.T, s keygate.Store) {
		tok := newServiceToken(t, s, "st-1", at(0))
		got, err := s.ServiceTokenByHash(t.Context(), tok.Hash)
		must(t, "ServiceTokenByHash", err)
		diff(t, "ServiceTokenByHash", tok, got)
		wantUTC(t, "ServiceTokenByHash", &got.CreatedAt)
	}},
	{"Conflict", func(t *testing.T, s keygate.Store) {
		tok := newServiceToken(t, s, "st-1", at(0))
		sameID := *tok
		sameID.Hash = keygate.HashSecret("other")
		wantErr(t, "CreateServiceToken(same id)", s.CreateServiceToken(t.Context(), &sameID), keygate.ErrConflict)
		sameHash := *tok
		sameHash.ID = "st-2"
		wantErr(t, "CreateServiceToken(same hash)", s.CreateServiceToken(t.Context(), &sameHash), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		newServiceToken(t, s, "st-1", at(0))
		_, err := s.ServiceTokenByHash(t.Context(), keygate.HashSecret("unknown"))
		wantErr(t, "ServiceTokenByHash(unknown)", err, keygate.ErrNotFound)
	}},
	{"ListAndRevoke", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		b := newServiceToken(t, s, "st-b", at(time.Minute))
		a := newServiceToken(t, s, "st-a", at(0))
		must(t, "RevokeServiceToken", s.RevokeServiceToken(ctx, b.ID, at(time.Hour)))
		wantErr(t, "RevokeServiceToken(again)", s.RevokeServiceToken(ctx, b.ID, at(2*time.Hour)), keygate.ErrNotFound)
		wantErr(t, "RevokeServiceToken(unknown)", s.RevokeServiceToken(ctx, "st-x", at(time.Hour)), keygate.ErrNotFound)
		revoked := at(time.Hour).UTC()
		b.RevokedAt = &revoked
		got, err := s.ListServiceTokens(ctx)
		must(t, "ListServiceTokens", err)
		diff(t, "ListServiceTokens (oldest first, revoked kept)", []*keygate.ServiceToken{a, b}, got)
		byHash, err := s.ServiceTokenByHash(ctx, b.Hash)
		must(t, "ServiceTokenByHash(revoked)", err)
		diff(t, "ServiceTokenByHash(revoked)", b, byHash)
		wantUTC(t, "ServiceTokenByHash(revoked)", byHash.RevokedAt)
	}},
}

func newServiceToken(t *testing.T, s keygate.Store, id string, created time.Time) *keygate.ServiceToken {
	t.Helper()
	tok := &keygate.ServiceToken{ID: id, Name: "proxy " + id, Hash: keygate.HashSecret(id + " secret"), CreatedAt: created}
	must(t, "CreateServiceToken", s.CreateServiceToken(t.Context(), tok))
	return tok
}
