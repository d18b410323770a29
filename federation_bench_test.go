package keygate_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/idtoken"
	"github.com/keygate/keygate/idtoken/idptest"
	"github.com/keygate/keygate/sqlite"
)

// accessTokenCeiling is how many times a cached key's cost a verified
// access token may cost in Service.Authenticate, measured in one run.
const accessTokenCeiling = 1.5

// BenchmarkAuthenticateAccessToken authenticates a key and an access token
// of the token exchange, both cached, in batches side by side, and reports
// the ratio of their costs (token/key), failing past accessTokenCeiling.
// "cold" is an access token's first verification (ES256 and the key
// lookup), for scale.
func BenchmarkAuthenticateAccessToken(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		keygate.WithPasswordHasher(keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}), keygate.WithSubjectTokenVerifier(idtoken.New(nil)))
	u, err := svc.CreateUser(ctx, "bench@example.com", "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	key, _, err := svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	idp := idptest.New(b)
	pol, err := svc.CreateFederationPolicy(ctx, keygate.NewFederationPolicyParams{UserID: u.ID, Issuer: idp.URL, Audience: "keygate",
		Subject: "system:serviceaccount:prod:*"})
	if err != nil {
		b.Fatal(err)
	}
	sa := idp.Sign(idptest.Kubernetes(idp.URL, "keygate", "prod", "api", time.Now()))
	exchange := func() string {
		tok, err := svc.ExchangeToken(ctx, keygate.TokenExchangeParams{GrantType: keygate.GrantTypeTokenExchange,
			SubjectToken: sa, SubjectTokenType: keygate.TokenTypeJWT, FederationPolicyID: pol.ID})
		if err != nil {
			b.Fatal(err)
		}
		return tok.AccessToken
	}
	token := exchange()
	auth := func(cred string) {
		if _, err := svc.Authenticate(ctx, cred); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cached", func(b *testing.B) {
		auth(key)
		auth(token)
		const batch = 64
		var keyTime, tokenTime time.Duration
		for b.Loop() {
			t0 := time.Now()
			for range batch {
				auth(key)
			}
			t1 := time.Now()
			for range batch {
				auth(token)
			}
			keyTime += t1.Sub(t0)
			tokenTime += time.Since(t1)
		}
		ratio := float64(tokenTime) / float64(keyTime)
		b.ReportMetric(float64(keyTime.Nanoseconds())/float64(b.N*batch), "ns/key")
		b.ReportMetric(float64(tokenTime.Nanoseconds())/float64(b.N*batch), "ns/token")
		b.ReportMetric(ratio, "token/key")
		if b.N > 100 && ratio > accessTokenCeiling {
			b.Errorf("a cached access token costs %.2f times a cached key, ceiling %.1f", ratio, accessTokenCeiling)
		}
	})
	b.Run("cold", func(b *testing.B) {
		tokens := make([]string, 0, 256)
		for range cap(tokens) {
			tokens = append(tokens, exchange())
		}
		i := 0
		for b.Loop() {
			auth(tokens[i%len(tokens)])
			i++
			if i%len(tokens) == 0 {
				b.StopTimer()
				svc.InvalidateAll() // drops keys; tokens are dropped by new ones
				tokens = tokens[:0]
				for range cap(tokens) {
					tokens = append(tokens, exchange())
				}
				b.StartTimer()
			}
		}
	})
}
