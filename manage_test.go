package keygate_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// fixture is a Service on a real SQLite file with a settable clock and one
// user.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	svc   *keygate.Service
	store *sqlite.DB
	clock *testClock
	user  *keygate.User
}

// testClock is a clock that tests move by hand; safe for concurrent reads.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newFixture(t testing.TB, opts ...keygate.Option) *fixture {
	t.Helper()
	return newFixtureStore(t, nil, opts...)
}

// newFixtureStore is newFixture with its SQLite file opened with dbOpts.
func newFixtureStore(t testing.TB, dbOpts []sqlite.Option, opts ...keygate.Option) *fixture {
	t.Helper()
	return newFixtureWrapped(t, dbOpts, nil, opts...)
}

// newFixtureWrapped is newFixtureStore whose service reaches the file
// through wrap(db) (nil: directly).
func newFixtureWrapped(t testing.TB, dbOpts []sqlite.Option, wrap func(*sqlite.DB) keygate.Store, opts ...keygate.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keygate.db"), dbOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &testClock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	cheap := keygate.PasswordHasher{Params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	var store keygate.Store = db
	if wrap != nil {
		store = wrap(db)
	}
	svc := keygate.NewService(store, keygate.DefaultConfig(), append([]keygate.Option{
		keygate.WithClock(clk.Now),
		keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		keygate.WithPasswordHasher(cheap)}, opts...)...)
	f := &fixture{t: t, ctx: ctx, svc: svc, store: db, clock: clk}
	f.user = f.newUser("alice@example.com")
	return f
}

func (f *fixture) newUser(email string) *keygate.User {
	f.t.Helper()
	u, err := f.svc.CreateUser(f.ctx, email, "correct horse battery staple")
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// newKey creates a key of the fixture's user and returns its secret and row.
func (f *fixture) newKey(p keygate.NewKeyParams) (string, *keygate.APIKey) {
	f.t.Helper()
	if p.UserID == "" {
		p.UserID = f.user.ID
	}
	if p.Name == "" {
		p.Name = "test key"
	}
	secret, k, err := f.svc.CreateKey(f.ctx, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return secret, k
}

// wantCode fails the test unless err carries the keygate error code want
// ("" for nil) and, when set, a message containing msg.
func wantCode(t *testing.T, err error, want, msg string) {
	t.Helper()
	if got := keygate.ErrorCode(err); got != want {
		t.Fatalf("error = %v, want code %q", err, want)
	}
	if msg != "" && !strings.Contains(keygate.ErrorMessage(err), msg) {
		t.Fatalf("message = %q, want it to contain %q", keygate.ErrorMessage(err), msg)
	}
}

func ptr[T any](v T) *T { return &v }

func TestListKeys(t *testing.T) {
	f := newFixture(t)
	def, err := f.store.DefaultWorkspace(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	_, a := f.newKey(keygate.NewKeyParams{Name: "a"})
	f.clock.Set(f.clock.Now().Add(time.Second))
	_, b := f.newKey(keygate.NewKeyParams{Name: "b"})
	f.clock.Set(f.clock.Now().Add(time.Second))
	_, c := f.newKey(keygate.NewKeyParams{Name: "c", WorkspaceID: &other.ID})
	if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, b.Hash, true); err != nil {
		t.Fatal(err)
	}
	mallory := f.newUser("mallory@example.com")
	f.newKey(keygate.NewKeyParams{UserID: mallory.ID, Name: "m"})

	tests := []struct {
		name string
		p    keygate.ListKeysParams
		want []string // names, newest first
		code string
		msg  string
	}{
		{"default-workspace", keygate.ListKeysParams{}, []string{"a"}, "", ""},
		{"include-disabled", keygate.ListKeysParams{IncludeDisabled: true}, []string{"b", "a"}, "", ""},
		{"named-default", keygate.ListKeysParams{WorkspaceID: &def.ID, IncludeDisabled: true}, []string{"b", "a"}, "", ""},
		{"other-workspace", keygate.ListKeysParams{WorkspaceID: &other.ID}, []string{"c"}, "", ""},
		{"all-workspaces", keygate.ListKeysParams{AllWorkspaces: true, IncludeDisabled: true}, []string{"c", "b", "a"}, "", ""},
		{"offset", keygate.ListKeysParams{IncludeDisabled: true, Offset: 1}, []string{"a"}, "", ""},
		{"offset-past-end", keygate.ListKeysParams{Offset: 5}, nil, "", ""},
		{"offset-negative", keygate.ListKeysParams{Offset: -1}, nil, keygate.EINVALID, "offset"},
		{"workspace-not-uuid", keygate.ListKeysParams{WorkspaceID: ptr("x")}, nil, keygate.EINVALID, "workspace_id"},
		{"workspace-unknown", keygate.ListKeysParams{WorkspaceID: ptr("3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f")}, nil, keygate.EINVALID, "workspace_id"},
		{"workspace-empty", keygate.ListKeysParams{WorkspaceID: ptr("")}, nil, keygate.EINVALID, "workspace_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.UserID = f.user.ID
			list, err := f.svc.ListKeys(f.ctx, p)
			wantCode(t, err, tt.code, tt.msg)
			var got []string
			for _, k := range list {
				if k.Key.UserID != f.user.ID {
					t.Errorf("listed a key of user %s", k.Key.UserID)
				}
				got = append(got, k.Key.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ListKeys(%+v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	if a.WorkspaceID != def.ID || c.WorkspaceID != other.ID {
		t.Errorf("workspaces: a in %s, c in %s", a.WorkspaceID, c.WorkspaceID)
	}
}

func TestListKeysPages(t *testing.T) {
	f := newFixture(t)
	for range keygate.KeyPageSize + 5 {
		f.newKey(keygate.NewKeyParams{})
	}
	first, err := f.svc.ListKeys(f.ctx, keygate.ListKeysParams{UserID: f.user.ID})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := f.svc.ListKeys(f.ctx, keygate.ListKeysParams{UserID: f.user.ID, Offset: keygate.KeyPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != keygate.KeyPageSize || len(rest) != 5 {
		t.Fatalf("pages hold %d and %d keys, want %d and 5", len(first), len(rest), keygate.KeyPageSize)
	}
}

func TestGetKeyOwnership(t *testing.T) {
	f := newFixture(t)
	_, k := f.newKey(keygate.NewKeyParams{})
	mallory := f.newUser("mallory@example.com")
	tests := []struct {
		name, user, hash, code string
	}{
		{"own", f.user.ID, k.Hash, ""},
		{"other-user", mallory.ID, k.Hash, keygate.ENOTFOUND},
		{"unknown", f.user.ID, strings.Repeat("0", 64), keygate.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := f.svc.GetKey(f.ctx, tt.user, tt.hash)
			wantCode(t, err, tt.code, "")
			if err == nil && info.Key.Hash != k.Hash {
				t.Errorf("GetKey = %s, want %s", info.Key.Hash, k.Hash)
			}
		})
	}
	// Changing another user's key is the same 404 as reading it.
	_, err := f.svc.UpdateKey(f.ctx, mallory.ID, k.Hash, keygate.KeyUpdate{Name: ptr("mine")})
	wantCode(t, err, keygate.ENOTFOUND, "")
	wantCode(t, f.svc.DeleteKey(f.ctx, mallory.ID, k.Hash), keygate.ENOTFOUND, "")
	_, err = f.svc.SetKeyDisabled(f.ctx, mallory.ID, k.Hash, true)
	wantCode(t, err, keygate.ENOTFOUND, "")
	got, err := f.store.Key(f.ctx, k.Hash)
	if err != nil || got.Name != "test key" || got.Disabled {
		t.Errorf("after another user's attempts the key is %+v, %v; want it unchanged", got, err)
	}
}

func TestUpdateKey(t *testing.T) {
	usd := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		start  keygate.NewKeyParams
		update keygate.KeyUpdate
		code   string
		msg    string
		check  func(t *testing.T, k *keygate.APIKey)
	}{
		{"rename", keygate.NewKeyParams{}, keygate.KeyUpdate{Name: ptr("  renamed ")}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.Name != "renamed" || k.Label != "renamed" {
				t.Errorf("name, label = %q, %q; want renamed", k.Name, k.Label)
			}
		}},
		{"name-empty", keygate.NewKeyParams{}, keygate.KeyUpdate{Name: ptr(" ")}, keygate.EINVALID, "name", nil},
		{"name-101", keygate.NewKeyParams{}, keygate.KeyUpdate{Name: ptr(strings.Repeat("é", 101))}, keygate.EINVALID, "name", nil},
		{"set-limit", keygate.NewKeyParams{}, keygate.KeyUpdate{SetLimit: true, LimitUSD: usd(7.5)}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.Limit == nil || *k.Limit != 7_500_000 {
				t.Errorf("limit = %v, want 7500000 micros", k.Limit)
			}
		}},
		{"null-limit-removes", keygate.NewKeyParams{LimitUSD: usd(5)}, keygate.KeyUpdate{SetLimit: true}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.Limit != nil {
				t.Errorf("limit = %d, want none", *k.Limit)
			}
		}},
		{"absent-limit-kept", keygate.NewKeyParams{LimitUSD: usd(5)}, keygate.KeyUpdate{Name: ptr("x")}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.Limit == nil || *k.Limit != 5_000_000 {
				t.Errorf("limit = %v, want 5000000 micros", k.Limit)
			}
		}},
		{"limit-negative", keygate.NewKeyParams{}, keygate.KeyUpdate{SetLimit: true, LimitUSD: usd(-1)}, keygate.EINVALID, "limit", nil},
		{"reset-set", keygate.NewKeyParams{}, keygate.KeyUpdate{SetLimitReset: true, LimitReset: ptr("weekly")}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.LimitReset != keygate.ResetWeekly {
				t.Errorf("limit_reset = %q, want weekly", k.LimitReset)
			}
		}},
		{"null-reset-removes", keygate.NewKeyParams{LimitReset: "daily"}, keygate.KeyUpdate{SetLimitReset: true}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.LimitReset != keygate.ResetNone {
				t.Errorf("limit_reset = %q, want none", k.LimitReset)
			}
		}},
		{"reset-bad", keygate.NewKeyParams{}, keygate.KeyUpdate{SetLimitReset: true, LimitReset: ptr("yearly")}, keygate.EINVALID, "limit_reset", nil},
		{"byok", keygate.NewKeyParams{}, keygate.KeyUpdate{IncludeBYOK: ptr(true)}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if !k.IncludeBYOK {
				t.Error("include_byok_in_limit = false, want true")
			}
		}},
		{"disable", keygate.NewKeyParams{}, keygate.KeyUpdate{Disabled: ptr(true)}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if !k.Disabled || k.UpdatedAt == nil {
				t.Errorf("disabled, updated_at = %v, %v; want true and set", k.Disabled, k.UpdatedAt)
			}
		}},
		{"nothing", keygate.NewKeyParams{}, keygate.KeyUpdate{}, "", "", func(t *testing.T, k *keygate.APIKey) {
			if k.UpdatedAt != nil {
				t.Errorf("updated_at = %v after an empty update, want unset", k.UpdatedAt)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, k := f.newKey(tt.start)
			info, err := f.svc.UpdateKey(f.ctx, f.user.ID, k.Hash, tt.update)
			wantCode(t, err, tt.code, tt.msg)
			stored, serr := f.store.Key(f.ctx, k.Hash)
			if serr != nil {
				t.Fatal(serr)
			}
			if err != nil {
				if stored.Name != k.Name || stored.UpdatedAt != nil {
					t.Errorf("a refused update changed the key: %+v", stored)
				}
				return
			}
			tt.check(t, info.Key)
			tt.check(t, stored)
		})
	}
}

// TestManagementInvalidatesCache checks that disable, update and delete hold
// from the very next authentication, although the key was cached.
func TestManagementInvalidatesCache(t *testing.T) {
	tests := []struct {
		name string
		act  func(f *fixture, hash string) error
		want string // error code of Authenticate afterwards
	}{
		{"disable", func(f *fixture, h string) error {
			_, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, h, true)
			return err
		}, keygate.EUNAUTHORIZED},
		{"patch-disabled", func(f *fixture, h string) error {
			_, err := f.svc.UpdateKey(f.ctx, f.user.ID, h, keygate.KeyUpdate{Disabled: ptr(true)})
			return err
		}, keygate.EUNAUTHORIZED},
		{"delete", func(f *fixture, h string) error { return f.svc.DeleteKey(f.ctx, f.user.ID, h) }, keygate.EUNAUTHORIZED},
		{"rename", func(f *fixture, h string) error {
			_, err := f.svc.UpdateKey(f.ctx, f.user.ID, h, keygate.KeyUpdate{Name: ptr("new name")})
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			secret, k := f.newKey(keygate.NewKeyParams{})
			if _, err := f.svc.Authenticate(f.ctx, secret); err != nil { // now cached
				t.Fatal(err)
			}
			if err := tt.act(f, k.Hash); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Authenticate(f.ctx, secret)
			wantCode(t, err, tt.want, "")
			if err == nil && got.Name != "new name" {
				t.Errorf("Authenticate returned the stale name %q", got.Name)
			}
		})
	}
}

func TestDeleteKey(t *testing.T) {
	f := newFixture(t)
	secret, k := f.newKey(keygate.NewKeyParams{})
	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: k.Hash, Cost: 10}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteKey(f.ctx, f.user.ID, k.Hash); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.svc.DeleteKey(f.ctx, f.user.ID, k.Hash), keygate.ENOTFOUND, "")
	_, err := f.svc.GetKey(f.ctx, f.user.ID, k.Hash)
	wantCode(t, err, keygate.ENOTFOUND, "")
	_, err = f.svc.Authenticate(f.ctx, secret)
	wantCode(t, err, keygate.EUNAUTHORIZED, "")
}

func TestSetKeyDisabled(t *testing.T) {
	f := newFixture(t)
	secret, k := f.newKey(keygate.NewKeyParams{})
	for _, disabled := range []bool{true, true, false, false} {
		got, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, k.Hash, disabled)
		if err != nil {
			t.Fatal(err)
		}
		if got.Disabled != disabled {
			t.Fatalf("SetKeyDisabled(%v).Disabled = %v", disabled, got.Disabled)
		}
		_, err = f.svc.Authenticate(f.ctx, secret)
		if (err != nil) != disabled {
			t.Fatalf("Authenticate after SetKeyDisabled(%v) = %v", disabled, err)
		}
	}
}

// TestManagementAudit checks that every change is in the audit trail, with
// the key's hash prefix and never the key.
func TestManagementAudit(t *testing.T) {
	f := newFixture(t)
	secret, k := f.newKey(keygate.NewKeyParams{})
	if _, err := f.svc.UpdateKey(f.ctx, f.user.ID, k.Hash, keygate.KeyUpdate{Name: ptr("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, k.Hash, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, k.Hash, false); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteKey(f.ctx, f.user.ID, k.Hash); err != nil {
		t.Fatal(err)
	}
	events, err := f.store.ListAudit(f.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.KeyHashPrefix == "" || !strings.HasPrefix(k.Hash, e.KeyHashPrefix) {
			continue
		}
		if strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, k.Hash) {
			t.Errorf("audit event %s holds a secret or the whole hash: %q", e.Action, e.Detail)
		}
		if e.ActorUserID != f.user.ID {
			t.Errorf("audit event %s actor = %q, want %q", e.Action, e.ActorUserID, f.user.ID)
		}
		actions = append(actions, e.Action)
	}
	want := []string{keygate.AuditKeyCreated, keygate.AuditKeyUpdated, keygate.AuditKeyDisabled, keygate.AuditKeyUpdated, keygate.AuditKeyDeleted}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audit actions = %v, want %v", actions, want)
	}
}
