package keygate_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/pkce"
	"github.com/keygate/keygate/sqlite"
)

// countingStore is a real SQLite store that counts the key reads made
// through it and can hold KeyWithUsage until released.
type countingStore struct {
	keygate.Store
	keyReads, usageReads, defaultReads atomic.Int64
	hold                               chan struct{} // nil: KeyWithUsage runs at once
}

func (s *countingStore) KeyWithUsage(ctx context.Context, hash string, want []keygate.UsageCounter) (*keygate.APIKey, []keygate.UsageCounter, error) {
	s.keyReads.Add(1)
	if s.hold != nil {
		<-s.hold
	}
	return s.Store.KeyWithUsage(ctx, hash, want)
}

func (s *countingStore) DefaultWorkspace(ctx context.Context, userID string) (*keygate.Workspace, error) {
	s.defaultReads.Add(1)
	return s.Store.DefaultWorkspace(ctx, userID)
}

func (s *countingStore) Key(ctx context.Context, hash string) (*keygate.APIKey, error) {
	s.keyReads.Add(1)
	return s.Store.Key(ctx, hash)
}

func (s *countingStore) UsageCounters(ctx context.Context, hash string, want []keygate.UsageCounter) ([]keygate.UsageCounter, error) {
	s.usageReads.Add(1)
	return s.Store.UsageCounters(ctx, hash, want)
}

// missCounter is an Observer that counts key cache misses.
type missCounter struct{ misses atomic.Int64 }

func (m *missCounter) KeyLookup(hit bool) {
	if !hit {
		m.misses.Add(1)
	}
}
func (*missCounter) Charged(*keygate.Generation) {}
func (*missCounter) LimitRefused(string)         {}
func (*missCounter) Audited(string)              {}

// coldFixture is a Service on a counting store over a real SQLite file,
// with a clock tests move, and a key of its user.
type coldFixture struct {
	svc    *keygate.Service
	store  *countingStore
	clock  *testClock
	obs    *missCounter
	secret string
	key    *keygate.APIKey
}

func newColdFixture(t *testing.T, cfg keygate.Config, opts ...keygate.Option) *coldFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &coldFixture{store: &countingStore{Store: db}, obs: &missCounter{},
		clock: &testClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}}
	opts = append([]keygate.Option{keygate.WithClock(f.clock.Now), keygate.WithObserver(f.obs),
		keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	f.svc = keygate.NewService(f.store, cfg, opts...)
	u, err := f.svc.CreateUser(t.Context(), "cold@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if f.secret, f.key, err = f.svc.CreateKey(t.Context(), keygate.NewKeyParams{UserID: u.ID, Name: "cold"}); err != nil {
		t.Fatal(err)
	}
	f.store.keyReads.Store(0)
	f.store.usageReads.Store(0)
	f.store.defaultReads.Store(0)
	return f
}

// TestColdKeyOneRead: a key that is not cached costs one store read for
// the key and its usage together; GET /api/v1/key's KeyInfo then reads
// nothing.
func TestColdKeyOneRead(t *testing.T) {
	f := newColdFixture(t, keygate.DefaultConfig())
	k, err := f.svc.Authenticate(t.Context(), f.secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.KeyInfo(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	if keys, usage := f.store.keyReads.Load(), f.store.usageReads.Load(); keys != 1 || usage != 0 {
		t.Errorf("a cold key and its usage cost %d key reads and %d usage reads, want 1 and 0", keys, usage)
	}
}

// TestUnknownKeyFlood: 64 clients sending 10 well-formed unknown keys over
// and over cost the store one read per key per UnknownKeyTTL, and every
// request is refused.
func TestUnknownKeyFlood(t *testing.T) {
	cfg := keygate.DefaultConfig()
	f := newColdFixture(t, cfg)
	const distinct, clients, each = 10, 64, 50
	unknown := make([]string, distinct)
	for i := range unknown {
		unknown[i] = keygate.NewKey(keygate.DefaultKeyPrefix)
	}
	flood := func() {
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for i := range each {
					_, err := f.svc.Authenticate(t.Context(), unknown[(c+i)%distinct])
					if keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
						t.Errorf("Authenticate(unknown key) = %v, want EUNAUTHORIZED", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	flood()
	if got := f.store.keyReads.Load(); got != distinct {
		t.Errorf("%d requests for %d unknown keys: %d store reads, want %d", clients*each, distinct, got, distinct)
	}
	// Within the lifetime: nothing more.
	f.clock.Set(f.clock.Now().Add(cfg.UnknownKeyTTL - time.Millisecond))
	flood()
	if got := f.store.keyReads.Load(); got != distinct {
		t.Errorf("within UnknownKeyTTL: %d store reads in all, want still %d", got, distinct)
	}
	// Past it: one more read per key.
	f.clock.Set(f.clock.Now().Add(time.Millisecond))
	flood()
	if got := f.store.keyReads.Load(); got != 2*distinct {
		t.Errorf("after UnknownKeyTTL: %d store reads in all, want %d", got, 2*distinct)
	}
	// The known key is unaffected.
	if _, err := f.svc.Authenticate(t.Context(), f.secret); err != nil {
		t.Errorf("Authenticate(known key) after the flood = %v", err)
	}
}

// TestUnknownKeyOff: UnknownKeyTTL 0 asks the store every time.
func TestUnknownKeyOff(t *testing.T) {
	cfg := keygate.DefaultConfig()
	cfg.UnknownKeyTTL = 0
	f := newColdFixture(t, cfg)
	unknown := keygate.NewKey(keygate.DefaultKeyPrefix)
	for range 5 {
		f.svc.Authenticate(t.Context(), unknown)
	}
	if got := f.store.keyReads.Load(); got != 5 {
		t.Errorf("5 lookups of an unknown key with UnknownKeyTTL 0: %d store reads, want 5", got)
	}
}

// TestKeyMissesShareRead: 32 requests that miss the cache for one key at
// once share one store read, and all get the key.
func TestKeyMissesShareRead(t *testing.T) {
	f := newColdFixture(t, keygate.DefaultConfig())
	f.store.hold = make(chan struct{})
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = f.svc.Authenticate(t.Context(), f.secret) })
	}
	// Every request has missed (and waits for the read) before it ends.
	for f.obs.misses.Load() < n {
		time.Sleep(time.Millisecond)
	}
	// A request counts its miss just before it joins the read; give the
	// last ones that instant.
	time.Sleep(20 * time.Millisecond)
	close(f.store.hold)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got := f.store.keyReads.Load(); got != 1 {
		t.Errorf("%d concurrent misses of one key: %d store reads, want 1", n, got)
	}
}

// TestKeyRefreshAhead: a key in steady use is reloaded before its entry
// expires, so after its first load it never misses, and a change made in
// the store without an announcement is seen at the next reload.
func TestKeyRefreshAhead(t *testing.T) {
	cfg := keygate.DefaultConfig()
	f := newColdFixture(t, cfg, keygate.InlineReloads())
	ttl := cfg.KeyCacheTTL
	for step := range 500 { // five TTLs
		if step > 0 {
			f.clock.Set(f.clock.Now().Add(ttl / 100))
		}
		k, err := f.svc.Authenticate(t.Context(), f.secret)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if _, err := f.svc.KeyInfo(t.Context(), k); err != nil {
			t.Fatalf("step %d: KeyInfo: %v", step, err)
		}
	}
	if got := f.obs.misses.Load(); got != 1 {
		t.Errorf("a key used every TTL/100 for five TTLs missed the cache %d times, want 1 (the first)", got)
	}
	// Its usage was read with it each time, never apart.
	if got := f.store.usageReads.Load(); got != 0 {
		t.Errorf("GET /api/v1/key's usage was read apart from the key %d times, want 0", got)
	}
	// Reloads happen once per life, between 5/8 and 7/8 of the TTL.
	if got := f.store.keyReads.Load(); got < 1+5 || got > 1+8 {
		t.Errorf("%d store reads over five TTLs, want 1 and one reload per life (5 to 8)", got)
	}
	// Disabled behind the cache's back (another process, announcement lost).
	if _, _, err := f.store.Store.UpdateKey(t.Context(), f.key.Hash, keygate.KeyPatch{Disabled: ptr(true), UpdatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	var err error
	for step := 0; err == nil && step <= 100; step++ {
		f.clock.Set(f.clock.Now().Add(ttl / 100))
		_, err = f.svc.Authenticate(t.Context(), f.secret)
	}
	if keygate.ErrorCode(err) != keygate.EUNAUTHORIZED {
		t.Errorf("a key disabled in the store is still accepted a TTL later: %v", err)
	}
}

// TestCodesReadDefaultWorkspaceOnce: the codes a user's key asks for, in
// the default workspace, read that workspace from the store once, and
// every code still goes to it.
func TestCodesReadDefaultWorkspaceOnce(t *testing.T) {
	f := newColdFixture(t, keygate.DefaultConfig())
	k, err := f.svc.Authenticate(t.Context(), f.secret)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		verifier := pkce.NewVerifier()
		code, err := f.svc.CreateAuthCode(t.Context(), keygate.Actor{UserID: k.UserID, Key: k},
			&keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb", CodeChallenge: pkce.ChallengeS256(verifier), CodeChallengeMethod: "S256"},
			keygate.Attribution{})
		if err != nil {
			t.Fatalf("code %d: %v", i, err)
		}
		res, err := f.svc.ExchangeAuthCode(t.Context(), &keygate.ExchangeRequest{Code: code.Code, CodeVerifier: verifier})
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		minted, err := f.svc.Authenticate(t.Context(), res.Key)
		if err != nil {
			t.Fatal(err)
		}
		if minted.WorkspaceID != k.WorkspaceID {
			t.Errorf("code %d minted a key in workspace %s, want the default %s", i, minted.WorkspaceID, k.WorkspaceID)
		}
	}
	if got := f.store.defaultReads.Load(); got != 1 {
		t.Errorf("5 codes in the default workspace read it %d times, want 1", got)
	}
}
