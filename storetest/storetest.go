package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keygate/keygate"
)

// Run runs the conformance suite. open must return a new, empty, migrated
// store for each call and close it when t ends (t.Cleanup).
//
// The subtests do not call t.Parallel: the concurrency tests measure the
// store, not a store shared with other subtests.
func Run(t *testing.T, open func(t *testing.T) keygate.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", userTests},
		{"Accounts", accountTests},
		{"Workspaces", workspaceTests},
		{"Apps", appTests},
		{"AuthCodes", codeTests},
		{"Keys", keyTests},
		{"Usage", usageTests},
		{"Generations", generationTests},
		{"Rollups", rollupTests},
		{"Leases", leaseTests},
		{"Sessions", sessionTests},
		{"Audit", auditTests},
		{"Audited", auditedTests},
		{"ServiceTokens", serviceTokenTests},
		{"Budgets", budgetTests},
		{"Guardrails", guardrailTests},
		{"Federation", federationTests},
		{"Identities", identityTests},
		{"Changes", changeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.fn(t, open(t))
				})
			}
		})
	}
}

// test is one conformance check, run on a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s keygate.Store)
}

// t0 is the suite's clock: every time it stores is derived from it. It is
// not in UTC and has nanoseconds, so a store must normalise both.
var t0 = time.Date(2025, 3, 14, 17, 9, 26, 535897123, time.FixedZone("CEST", 2*60*60))

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// newID returns a random UUID (version 4), the shape of keygate's ids.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// cmpOpts compares what a store returns with what was stored: times at
// microsecond precision (a store may round or truncate below that) and in
// any zone, and an empty slice equal to a nil one.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool {
		d := a.Sub(b)
		return -time.Microsecond < d && d < time.Microsecond
	}),
	cmpopts.EquateEmpty(),
}

// diff reports a difference between want and got, naming what was read.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// wantUTC fails unless every time is in UTC, as stores must return them.
func wantUTC(t *testing.T, what string, times ...*time.Time) {
	t.Helper()
	for i, tm := range times {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s: time #%d in %v, want UTC", what, i, tm.Location())
		}
	}
}

// wantErr fails unless errors.Is(err, want); want nil means no error.
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s = %v, want no error", call, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s = %v, want %v", call, err, want)
	}
}

// must fails the test at once on an error from a setup step.
func must(t *testing.T, call string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
}

// Fixtures. Each returns what it stored, with fresh ids.

func newUser(t *testing.T, s keygate.Store) (*keygate.User, *keygate.Workspace) {
	t.Helper()
	u := &keygate.User{
		ID:           newID(),
		Email:        "u-" + newID()[:8] + "@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		CreatedAt:    t0,
	}
	ws := &keygate.Workspace{
		ID: newID(), UserID: u.ID, Name: "Default", Slug: "default",
		IsDefault: true, CreatedAt: t0, WorkspaceSettings: defaultSettings,
	}
	must(t, "CreateUser", s.CreateUser(t.Context(), u, ws))
	return u, ws
}

func newWorkspace(t *testing.T, s keygate.Store, userID, slug string, created time.Time) *keygate.Workspace {
	t.Helper()
	w := &keygate.Workspace{ID: newID(), UserID: userID, Name: "WS " + slug, Slug: slug, CreatedAt: created, WorkspaceSettings: defaultSettings}
	must(t, "CreateWorkspace", s.CreateWorkspace(t.Context(), w))
	return w
}

func newApp(t *testing.T, s keygate.Store, url string) *keygate.App {
	t.Helper()
	a, err := s.UpsertApp(t.Context(), &keygate.App{URL: url, Title: "App " + url, CreatedAt: t0})
	must(t, "UpsertApp", err)
	return a
}

// keyFor returns an unsaved minimal key in workspace ws.
func keyFor(ws *keygate.Workspace, created time.Time) *keygate.APIKey {
	secret := keygate.NewKey(keygate.DefaultKeyPrefix)
	return &keygate.APIKey{
		Hash:          keygate.HashSecret(secret),
		UserID:        ws.UserID,
		WorkspaceID:   ws.ID,
		Label:         keygate.MaskKey(secret),
		CreatorUserID: ws.UserID,
		CreatedAt:     created,
	}
}

func newKey(t *testing.T, s keygate.Store, ws *keygate.Workspace, created time.Time) *keygate.APIKey {
	t.Helper()
	k := keyFor(ws, created)
	must(t, "CreateKey", s.CreateKey(t.Context(), k))
	return k
}

// codeFor returns an unsaved minimal authorization code for ws, valid for
// ten minutes from t0.
func codeFor(ws *keygate.Workspace) *keygate.AuthCode {
	return &keygate.AuthCode{
		Hash:        keygate.HashSecret(keygate.NewCode()),
		UserID:      ws.UserID,
		WorkspaceID: ws.ID,
		CreatedAt:   t0,
		ExpiresAt:   at(10 * time.Minute),
	}
}

func newCode(t *testing.T, s keygate.Store, ws *keygate.Workspace) *keygate.AuthCode {
	t.Helper()
	c := codeFor(ws)
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c, nil))
	return c
}

// LatestMigration returns the version of the newest migration file in dir
// (named NNNNN_name.sql), for tests that check a store is fully migrated.
func LatestMigration(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var latest int64
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			t.Fatalf("migration %s: no version number", e.Name())
		}
		latest = max(latest, v)
	}
	return latest
}
