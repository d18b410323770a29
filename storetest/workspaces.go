package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// defaultSettings are the settings of a workspace that never set any.
var defaultSettings = keygate.WorkspaceSettings{IOLoggingSamplingRate: keygate.DefaultIOLoggingSamplingRate}

// fullSettings sets every setting away from its default.
var fullSettings = keygate.WorkspaceSettings{
	DefaultTextModel:                ptr("openai/gpt-4o"),
	DefaultImageModel:               ptr("openai/dall-e-3"),
	DefaultProviderSort:             ptr("throughput"),
	IOLoggingAPIKeyIDs:              []int64{7, 1 << 40, 3},
	IOLoggingSamplingRate:           0.0001,
	IsDataDiscountLoggingEnabled:    true,
	IsObservabilityBroadcastEnabled: true,
	IsObservabilityIOLoggingEnabled: true,
	DisabledServerTools:             []string{"openrouter:web_search", "openrouter:bash"},
}

var workspaceTests = []test{
	{"BySlug", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, def := newUser(t, s)
		other, _ := newUser(t, s)
		w := newWorkspace(t, s, u.ID, "research", at(time.Hour))
		newWorkspace(t, s, other.ID, "lab", at(time.Hour))
		for _, tt := range []struct {
			user, slug string
			want       *keygate.Workspace
		}{
			{u.ID, "research", w},
			{u.ID, "default", def},
			{u.ID, "Research", nil}, // compared exactly
			{u.ID, "lab", nil},      // another user's
			{other.ID, "research", nil},
		} {
			got, err := s.WorkspaceBySlug(ctx, tt.user, tt.slug)
			if tt.want == nil {
				wantErr(t, "WorkspaceBySlug("+tt.slug+")", err, keygate.ErrNotFound)
				continue
			}
			must(t, "WorkspaceBySlug", err)
			diff(t, "WorkspaceBySlug("+tt.slug+")", tt.want, got)
		}
	}},
	{"RoundTrip", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := &keygate.Workspace{
			ID: newID(), UserID: u.ID, Name: "Research", Slug: "research",
			Description: ptr("Keys for the research agents"),
			CreatedAt:   at(time.Hour), UpdatedAt: ptr(at(2 * time.Hour)),
			WorkspaceSettings: fullSettings,
		}
		must(t, "CreateWorkspace", s.CreateWorkspace(t.Context(), w))
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		diff(t, "Workspace", w, got)
		wantUTC(t, "Workspace", &got.CreatedAt, got.UpdatedAt)
		list, _, err := s.ListWorkspaces(t.Context(), u.ID, 0, 0)
		must(t, "ListWorkspaces", err)
		if len(list) != 2 {
			t.Fatalf("ListWorkspaces = %d workspaces, want 2", len(list))
		}
		diff(t, "ListWorkspaces[1]", w, list[1])
	}},
	{"SettingsDefaults", func(t *testing.T, s keygate.Store) {
		// A workspace inserted with zero settings, by CreateWorkspace or
		// as a user's default, reads back the defaults: a sampling rate of
		// 0 is not one (OpenRouter: 0.0001 to 1).
		u, _ := newUser(t, s)
		w := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "Z", Slug: "z", CreatedAt: t0}
		must(t, "CreateWorkspace", s.CreateWorkspace(t.Context(), w))
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		diff(t, "Workspace(zero settings).WorkspaceSettings", defaultSettings, got.WorkspaceSettings)

		u2 := &keygate.User{ID: newID(), Email: "z-" + newID()[:8] + "@example.com", PasswordHash: "h", CreatedAt: t0}
		def := &keygate.Workspace{ID: newID(), Name: "Default", Slug: "default", CreatedAt: t0}
		must(t, "CreateUser", s.CreateUser(t.Context(), u2, def))
		got, err = s.DefaultWorkspace(t.Context(), u2.ID)
		must(t, "DefaultWorkspace", err)
		diff(t, "DefaultWorkspace(zero settings).WorkspaceSettings", defaultSettings, got.WorkspaceSettings)
	}},
	{"EmptyListsAreNotNil", func(t *testing.T, s keygate.Store) {
		// io_logging_api_key_ids null means every key; an empty list is
		// another thing and must read back as such.
		u, _ := newUser(t, s)
		w := newWorkspace(t, s, u.ID, "lists", t0)
		after, err := s.UpdateWorkspace(t.Context(), w.ID, keygate.WorkspacePatch{
			SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{}, UpdatedAt: at(time.Hour),
		})
		must(t, "UpdateWorkspace", err)
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		for _, w := range []*keygate.Workspace{after, got} {
			if w.IOLoggingAPIKeyIDs == nil || len(w.IOLoggingAPIKeyIDs) != 0 {
				t.Errorf("IOLoggingAPIKeyIDs = %#v, want an empty, non-nil list", w.IOLoggingAPIKeyIDs)
			}
		}
		_, err = s.UpdateWorkspace(t.Context(), w.ID, keygate.WorkspacePatch{
			SetIOLoggingAPIKeyIDs: true, SetDisabledServerTools: true, UpdatedAt: at(2 * time.Hour),
		})
		must(t, "UpdateWorkspace", err)
		got, err = s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		if got.IOLoggingAPIKeyIDs != nil || got.DisabledServerTools != nil {
			t.Errorf("IOLoggingAPIKeyIDs, DisabledServerTools = %#v, %#v; want nil, nil", got.IOLoggingAPIKeyIDs, got.DisabledServerTools)
		}
	}},
	{"EmptyDescriptionIsNotNil", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "E", Slug: "e", Description: ptr(""), CreatedAt: t0}
		must(t, "CreateWorkspace", s.CreateWorkspace(t.Context(), w))
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		if got.Description == nil || *got.Description != "" {
			t.Errorf("Workspace(%s).Description = %v, want pointer to \"\"", w.ID, got.Description)
		}
	}},
	{"SlugConflict", func(t *testing.T, s keygate.Store) {
		ctx := t.Context()
		u, _ := newUser(t, s)
		newWorkspace(t, s, u.ID, "team", t0)
		dup := &keygate.Workspace{ID: newID(), UserID: u.ID, Name: "Team 2", Slug: "team", CreatedAt: t0}
		wantErr(t, "CreateWorkspace(same slug)", s.CreateWorkspace(ctx, dup), keygate.ErrConflict)
		// Slugs are unique per user, not globally.
		other, _ := newUser(t, s)
		newWorkspace(t, s, other.ID, "team", t0)
	}},
	{"IDConflict", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		w := newWorkspace(t, s, u.ID, "a", t0)
		dup := &keygate.Workspace{ID: w.ID, UserID: u.ID, Name: "B", Slug: "b", CreatedAt: t0}
		wantErr(t, "CreateWorkspace(same id)", s.CreateWorkspace(t.Context(), dup), keygate.ErrConflict)
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		newUser(t, s)
		_, err := s.Workspace(t.Context(), newID())
		wantErr(t, "Workspace(unknown)", err, keygate.ErrNotFound)
		_, err = s.DefaultWorkspace(t.Context(), newID())
		wantErr(t, "DefaultWorkspace(unknown user)", err, keygate.ErrNotFound)
	}},
	{"List", testListWorkspaces},
	{"Update", testUpdateWorkspace},
	{"UpdateConcurrentFields", testUpdateWorkspaceConcurrentFields},
	{"UpdateSlugConflict", func(t *testing.T, s keygate.Store) {
		u, _ := newUser(t, s)
		newWorkspace(t, s, u.ID, "taken", t0)
		w := newWorkspace(t, s, u.ID, "free", t0)
		_, err := s.UpdateWorkspace(t.Context(), w.ID, keygate.WorkspacePatch{
			Name: ptr("Renamed"), Slug: ptr("taken"), UpdatedAt: at(time.Hour),
		})
		wantErr(t, "UpdateWorkspace(taken slug)", err, keygate.ErrConflict)
		got, err := s.Workspace(t.Context(), w.ID)
		must(t, "Workspace", err)
		diff(t, "Workspace after a refused update", w, got)
		// Another user's slug is no conflict.
		other, _ := newUser(t, s)
		o := newWorkspace(t, s, other.ID, "mine", t0)
		_, err = s.UpdateWorkspace(t.Context(), o.ID, keygate.WorkspacePatch{Slug: ptr("taken"), UpdatedAt: at(time.Hour)})
		must(t, "UpdateWorkspace(slug of another user's workspace)", err)
	}},
	{"UpdateMissing", func(t *testing.T, s keygate.Store) {
		newUser(t, s)
		_, err := s.UpdateWorkspace(t.Context(), newID(), keygate.WorkspacePatch{Name: ptr("x"), UpdatedAt: at(time.Hour)})
		wantErr(t, "UpdateWorkspace(unknown)", err, keygate.ErrNotFound)
	}},
	{"Delete", testDeleteWorkspace},
	{"DeleteRacesCreateKey", testDeleteWorkspaceRace},
	{"DeleteRacesCreateCode", testDeleteWorkspaceRaceCode},
	{"DeleteRacesEnableKey", testDeleteWorkspaceRaceEnable},
	{"DeleteRacesRedeemCode", testDeleteWorkspaceRaceRedeem},
	{"DeleteAnnouncesKeys", testDeleteWorkspaceAnnounces},
}

func testListWorkspaces(t *testing.T, s keygate.Store) {
	u, def := newUser(t, s)
	all := []*keygate.Workspace{def}
	for i := range 4 {
		all = append(all, newWorkspace(t, s, u.ID, fmt.Sprintf("ws-%d", i), at(time.Duration(i+1)*time.Minute)))
	}
	other, _ := newUser(t, s)
	newWorkspace(t, s, other.ID, "not-mine", at(time.Second))

	tests := []struct {
		name          string
		offset, limit int
		want          []*keygate.Workspace
	}{
		{"All", 0, 10, all},
		{"FirstPage", 0, 2, all[:2]},
		{"SecondPage", 2, 2, all[2:4]},
		{"LastPartial", 4, 2, all[4:]},
		{"PastEnd", 5, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.ListWorkspaces(t.Context(), u.ID, tt.offset, tt.limit)
			must(t, "ListWorkspaces", err)
			if total != len(all) {
				t.Errorf("ListWorkspaces(%d, %d) total = %d, want %d", tt.offset, tt.limit, total, len(all))
			}
			diff(t, fmt.Sprintf("ListWorkspaces(%d, %d)", tt.offset, tt.limit), tt.want, got)
		})
	}
	got, total, err := s.ListWorkspaces(t.Context(), newID(), 0, 10)
	must(t, "ListWorkspaces(unknown user)", err)
	if len(got) != 0 || total != 0 {
		t.Errorf("ListWorkspaces(unknown user) = %d workspaces, total %d; want none", len(got), total)
	}
}

// testUpdateWorkspace applies one patch to a fresh workspace per row: the
// fields the patch sets change, no other field does (the user, the default
// flag and the creation time never), and updated_at moves only when a
// value changes.
func testUpdateWorkspace(t *testing.T, s keygate.Store) {
	u, _ := newUser(t, s)
	later := at(time.Hour)
	tests := []struct {
		name   string
		before func(w *keygate.Workspace)
		patch  keygate.WorkspacePatch
		want   func(w *keygate.Workspace) // the workspace after the patch; nil: unchanged
	}{
		{"SetAll", func(*keygate.Workspace) {}, keygate.WorkspacePatch{
			Name: ptr("New"), Slug: ptr("new"), SetDescription: true, Description: ptr("now described"),
			SetDefaultTextModel: true, DefaultTextModel: fullSettings.DefaultTextModel,
			SetDefaultImageModel: true, DefaultImageModel: fullSettings.DefaultImageModel,
			SetDefaultProviderSort: true, DefaultProviderSort: fullSettings.DefaultProviderSort,
			SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: fullSettings.IOLoggingAPIKeyIDs,
			SetDisabledServerTools: true, DisabledServerTools: fullSettings.DisabledServerTools,
			IOLoggingSamplingRate:           ptr(fullSettings.IOLoggingSamplingRate),
			IsDataDiscountLoggingEnabled:    ptr(true),
			IsObservabilityBroadcastEnabled: ptr(true),
			IsObservabilityIOLoggingEnabled: ptr(true),
			UpdatedAt:                       later,
		}, func(w *keygate.Workspace) {
			w.Name, w.Slug, w.Description = "New", "new", ptr("now described")
			w.WorkspaceSettings = fullSettings
			w.UpdatedAt = &later
		}},
		{"NameOnly", func(w *keygate.Workspace) { w.WorkspaceSettings = fullSettings }, keygate.WorkspacePatch{
			Name: ptr("Renamed"), UpdatedAt: later,
		}, func(w *keygate.Workspace) { w.Name, w.UpdatedAt = "Renamed", &later }},
		{"SlugOnly", func(*keygate.Workspace) {}, keygate.WorkspacePatch{Slug: ptr("moved"), UpdatedAt: later}, func(w *keygate.Workspace) {
			w.Slug, w.UpdatedAt = "moved", &later
		}},
		{"ClearDescription", func(*keygate.Workspace) {}, keygate.WorkspacePatch{SetDescription: true, UpdatedAt: later}, func(w *keygate.Workspace) {
			w.Description, w.UpdatedAt = nil, &later
		}},
		{"EmptyDescription", func(*keygate.Workspace) {}, keygate.WorkspacePatch{SetDescription: true, Description: ptr(""), UpdatedAt: later}, func(w *keygate.Workspace) {
			w.Description, w.UpdatedAt = ptr(""), &later
		}},
		{"DescriptionFromNull", func(w *keygate.Workspace) { w.Description = nil }, keygate.WorkspacePatch{
			SetDescription: true, Description: ptr("old"), UpdatedAt: later,
		}, func(w *keygate.Workspace) { w.Description, w.UpdatedAt = ptr("old"), &later }},
		{"ClearNullableSettings", func(w *keygate.Workspace) { w.WorkspaceSettings = fullSettings }, keygate.WorkspacePatch{
			SetDefaultTextModel: true, SetDefaultImageModel: true, SetDefaultProviderSort: true,
			SetIOLoggingAPIKeyIDs: true, SetDisabledServerTools: true, UpdatedAt: later,
		}, func(w *keygate.Workspace) {
			w.DefaultTextModel, w.DefaultImageModel, w.DefaultProviderSort = nil, nil, nil
			w.IOLoggingAPIKeyIDs, w.DisabledServerTools, w.UpdatedAt = nil, nil, &later
		}},
		{"NullKeyIDsToEmpty", func(*keygate.Workspace) {}, keygate.WorkspacePatch{
			SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{}, UpdatedAt: later,
		}, func(w *keygate.Workspace) { w.IOLoggingAPIKeyIDs, w.UpdatedAt = []int64{}, &later }},
		{"SwitchesAndRate", func(w *keygate.Workspace) { w.WorkspaceSettings = fullSettings }, keygate.WorkspacePatch{
			IOLoggingSamplingRate: ptr(0.5), IsDataDiscountLoggingEnabled: ptr(false),
			IsObservabilityIOLoggingEnabled: ptr(false), UpdatedAt: later,
		}, func(w *keygate.Workspace) {
			w.IOLoggingSamplingRate, w.IsDataDiscountLoggingEnabled, w.IsObservabilityIOLoggingEnabled = 0.5, false, false
			w.UpdatedAt = &later
		}},
		{"SameValues", func(w *keygate.Workspace) { w.WorkspaceSettings = fullSettings }, keygate.WorkspacePatch{
			Name: ptr("Original"), SetDescription: true, Description: ptr("old"),
			SetDefaultTextModel: true, DefaultTextModel: fullSettings.DefaultTextModel,
			SetDefaultImageModel: true, DefaultImageModel: fullSettings.DefaultImageModel,
			SetDefaultProviderSort: true, DefaultProviderSort: fullSettings.DefaultProviderSort,
			SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: fullSettings.IOLoggingAPIKeyIDs,
			SetDisabledServerTools: true, DisabledServerTools: fullSettings.DisabledServerTools,
			IOLoggingSamplingRate:           ptr(fullSettings.IOLoggingSamplingRate),
			IsDataDiscountLoggingEnabled:    ptr(true),
			IsObservabilityBroadcastEnabled: ptr(true),
			IsObservabilityIOLoggingEnabled: ptr(true),
			UpdatedAt:                       later,
		}, nil},
		{"SameNulls", func(*keygate.Workspace) {}, keygate.WorkspacePatch{
			SetDefaultTextModel: true, SetDefaultImageModel: true, SetDefaultProviderSort: true,
			SetIOLoggingAPIKeyIDs: true, SetDisabledServerTools: true, UpdatedAt: later,
		}, nil},
		{"SameEmptyKeyIDs", func(w *keygate.Workspace) { w.IOLoggingAPIKeyIDs = []int64{} }, keygate.WorkspacePatch{
			SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{}, UpdatedAt: later,
		}, nil},
		{"Empty", func(*keygate.Workspace) {}, keygate.WorkspacePatch{UpdatedAt: later}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			w := &keygate.Workspace{
				ID: newID(), UserID: u.ID, Name: "Original", Slug: fmt.Sprintf("original-%d", i),
				Description: ptr("old"), CreatedAt: t0, UpdatedAt: ptr(at(time.Minute)),
				WorkspaceSettings: defaultSettings,
			}
			tt.before(w)
			must(t, "CreateWorkspace", s.CreateWorkspace(ctx, w))
			want := *w
			if tt.want != nil {
				tt.want(&want)
			}
			after, err := s.UpdateWorkspace(ctx, w.ID, tt.patch)
			must(t, "UpdateWorkspace", err)
			diff(t, "UpdateWorkspace("+tt.name+")", &want, after)
			wantUTC(t, "UpdateWorkspace", &after.CreatedAt, after.UpdatedAt)
			got, err := s.Workspace(ctx, w.ID)
			must(t, "Workspace", err)
			diff(t, "Workspace after UpdateWorkspace("+tt.name+")", &want, got)
		})
	}
}

// testUpdateWorkspaceConcurrentFields patches different fields of one
// workspace from two goroutines at once, many times. No patch may undo
// another's: each goroutine sees the other's fields only move forward,
// and at the end the workspace holds both goroutines' last values.
func testUpdateWorkspaceConcurrentFields(t *testing.T, s keygate.Store) {
	const rounds = 100
	ctx := t.Context()
	u, _ := newUser(t, s)
	w := newWorkspace(t, s, u.ID, "contested", t0)
	name := func(i int) string { return fmt.Sprintf("name-%03d", i) }
	model := func(i int) string { return fmt.Sprintf("vendor/model-%03d", i) }
	var wg sync.WaitGroup
	wg.Go(func() { // the name and description
		seen := ""
		for i := 1; i <= rounds; i++ {
			after, err := s.UpdateWorkspace(ctx, w.ID, keygate.WorkspacePatch{
				Name: ptr(name(i)), SetDescription: true, Description: ptr(name(i)), UpdatedAt: at(time.Hour),
			})
			if err != nil {
				t.Errorf("UpdateWorkspace(name %d) = %v", i, err)
				return
			}
			m := strOf(after.DefaultTextModel)
			if after.Name != name(i) || strOf(after.Description) != name(i) || m < seen {
				t.Errorf("UpdateWorkspace(name %d) left name %q, description %q, model %q after model %q: an update was lost",
					i, after.Name, strOf(after.Description), m, seen)
				return
			}
			seen = m
		}
	})
	wg.Go(func() { // the text model and the sampling rate
		seen := ""
		for i := 1; i <= rounds; i++ {
			rate := float64(i) / rounds
			after, err := s.UpdateWorkspace(ctx, w.ID, keygate.WorkspacePatch{
				SetDefaultTextModel: true, DefaultTextModel: ptr(model(i)), IOLoggingSamplingRate: &rate, UpdatedAt: at(time.Hour),
			})
			if err != nil {
				t.Errorf("UpdateWorkspace(model %d) = %v", i, err)
				return
			}
			if strOf(after.DefaultTextModel) != model(i) || after.IOLoggingSamplingRate != rate || after.Name < seen {
				t.Errorf("UpdateWorkspace(model %d) left model %q, rate %g, name %q after name %q: an update was lost",
					i, strOf(after.DefaultTextModel), after.IOLoggingSamplingRate, after.Name, seen)
				return
			}
			seen = after.Name
		}
	})
	wg.Wait()
	got, err := s.Workspace(ctx, w.ID)
	must(t, "Workspace", err)
	if got.Name != name(rounds) || strOf(got.Description) != name(rounds) ||
		strOf(got.DefaultTextModel) != model(rounds) || got.IOLoggingSamplingRate != 1 {
		t.Errorf("after both goroutines: name %q, description %q, model %q, rate %g; want %q, %q, %q, 1",
			got.Name, strOf(got.Description), strOf(got.DefaultTextModel), got.IOLoggingSamplingRate, name(rounds), name(rounds), model(rounds))
	}
}

// strOf returns *p, or "" for nil.
func strOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func testDeleteWorkspace(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, def := newUser(t, s)
	empty := newWorkspace(t, s, u.ID, "empty", t0)
	withKey := newWorkspace(t, s, u.ID, "with-key", t0)
	enabled := newKey(t, s, withKey, t0)
	withDisabled := newWorkspace(t, s, u.ID, "with-disabled", t0)
	disabled := []*keygate.APIKey{newDisabledKey(t, s, withDisabled), newDisabledKey(t, s, withDisabled)}
	record(t, s, disabled[0].Hash, []string{disabled[0].Hash}, t0, 5, false)
	mixed := newWorkspace(t, s, u.ID, "mixed", t0)
	mixedEnabled := newKey(t, s, mixed, t0)
	mixedDisabled := newDisabledKey(t, s, mixed)
	withCode := newWorkspace(t, s, u.ID, "with-code", t0)
	code := newCode(t, s, withCode)
	// A disabled key in another workspace is none of the delete's business.
	bystander := newDisabledKey(t, s, newWorkspace(t, s, u.ID, "other", t0))

	tests := []struct {
		name        string
		id          string
		want        error
		wantDeleted []string // hashes DeleteWorkspace returns
		kept        []string // keys that must still exist afterwards
	}{
		{"Empty", empty.ID, nil, nil, nil},
		{"PendingCodeOnly", withCode.ID, nil, nil, nil},
		{"HoldsKey", withKey.ID, keygate.ErrConflict, nil, []string{enabled.Hash}},
		{"HoldsDisabledKeysOnly", withDisabled.ID, nil, []string{disabled[0].Hash, disabled[1].Hash}, nil},
		{"HoldsEnabledAndDisabledKey", mixed.ID, keygate.ErrConflict, nil, []string{mixedEnabled.Hash, mixedDisabled.Hash}},
		{"Default", def.ID, keygate.ErrConflict, nil, nil},
		{"Missing", newID(), keygate.ErrNotFound, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deleted, err := s.DeleteWorkspace(ctx, tt.id)
			wantErr(t, "DeleteWorkspace("+tt.name+")", err, tt.want)
			slices.Sort(deleted)
			want := slices.Sorted(slices.Values(tt.wantDeleted))
			diff(t, "DeleteWorkspace("+tt.name+") deleted keys", want, deleted)
			_, err = s.Workspace(ctx, tt.id)
			switch {
			case tt.want == nil || tt.want == keygate.ErrNotFound:
				wantErr(t, "Workspace(after delete)", err, keygate.ErrNotFound)
			default:
				wantErr(t, "Workspace(after refused delete)", err, nil)
			}
			for _, h := range tt.wantDeleted {
				_, err := s.Key(ctx, h)
				wantErr(t, "Key(deleted with its workspace)", err, keygate.ErrNotFound)
			}
			for _, h := range tt.kept {
				_, err := s.Key(ctx, h)
				wantErr(t, "Key(of a workspace whose delete was refused)", err, nil)
			}
		})
	}
	// The deleted key's usage counters went with it.
	usage, err := keyUsage(t, s, disabled[0].Hash, keygate.PeriodsAt(t0))
	must(t, "UsageCounters(deleted key)", err)
	diff(t, "KeyUsage(deleted key)", keygate.Usage{}, usage)
	if _, err := s.Key(ctx, bystander.Hash); err != nil {
		t.Errorf("Key(disabled key of another workspace) = %v, want it kept", err)
	}
	// A code of a deleted workspace can no longer mint a key into it.
	minted := keyFor(withCode, at(time.Minute))
	if err := s.RedeemAuthCode(ctx, code.Hash, at(time.Minute), minted, nil); err == nil {
		t.Errorf("RedeemAuthCode(code of deleted workspace) = nil, want an error")
	}
	_, err = s.Key(ctx, minted.Hash)
	wantErr(t, "Key(minted into deleted workspace)", err, keygate.ErrNotFound)
}

// newDisabledKey stores a disabled key in ws.
func newDisabledKey(t *testing.T, s keygate.Store, ws *keygate.Workspace) *keygate.APIKey {
	t.Helper()
	k := keyFor(ws, t0)
	k.Disabled = true
	must(t, "CreateKey(disabled)", s.CreateKey(t.Context(), k))
	return k
}

// testDeleteWorkspaceRace races a key into a workspace against the
// workspace's deletion: one of the two must lose, or the key would be
// orphaned. The workspace already holds a disabled key, which the delete
// takes with it when it wins.
func testDeleteWorkspaceRace(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, _ := newUser(t, s)
	var keyWon, deleteWon int
	defer func() { t.Logf("the key won %d trials, the delete %d", keyWon, deleteWon) }()
	for i := range 50 {
		w := newWorkspace(t, s, u.ID, fmt.Sprintf("race-%d", i), t0)
		old := newDisabledKey(t, s, w)
		k := keyFor(w, t0)
		var keyErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() { keyErr = s.CreateKey(ctx, k) })
		wg.Go(func() { _, delErr = s.DeleteWorkspace(ctx, w.ID) })
		wg.Wait()
		switch {
		case keyErr == nil && delErr == nil:
			t.Fatalf("trial %d: both CreateKey and DeleteWorkspace succeeded: key orphaned", i)
		case keyErr == nil:
			keyWon++
			wantErr(t, "DeleteWorkspace(after key won)", delErr, keygate.ErrConflict)
			// A refused delete keeps the disabled key too.
			_, err := s.Key(ctx, old.Hash)
			wantErr(t, "Key(disabled, after refused delete)", err, nil)
		case delErr == nil:
			deleteWon++
			wantErr(t, "CreateKey(after delete won)", keyErr, keygate.ErrNotFound)
		default:
			t.Fatalf("trial %d: CreateKey = %v, DeleteWorkspace = %v; want one to succeed", i, keyErr, delErr)
		}
	}
}

// testDeleteWorkspaceRaceCode races a code into a workspace against the
// workspace's deletion. Either the code comes first and the delete takes
// it with the workspace, or the delete comes first and the code's
// workspace is not found: no other outcome, and no code left pointing at
// a deleted workspace.
func testDeleteWorkspaceRaceCode(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, _ := newUser(t, s)
	var codeWon, deleteWon int
	defer func() { t.Logf("the code won %d trials, the delete %d", codeWon, deleteWon) }()
	for i := range 50 {
		w := newWorkspace(t, s, u.ID, fmt.Sprintf("race-%d", i), t0)
		c := codeFor(w)
		var codeErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() { codeErr = s.CreateAuthCode(ctx, c, nil) })
		wg.Go(func() { _, delErr = s.DeleteWorkspace(ctx, w.ID) })
		wg.Wait()
		must(t, "DeleteWorkspace", delErr)
		switch {
		case codeErr == nil:
			codeWon++
		case errors.Is(codeErr, keygate.ErrNotFound):
			deleteWon++
		default:
			t.Fatalf("trial %d: CreateAuthCode = %v, want nil or keygate.ErrNotFound", i, codeErr)
		}
		_, err := s.AuthCode(ctx, c.Hash)
		wantErr(t, "AuthCode(after its workspace was deleted)", err, keygate.ErrNotFound)
	}
}

// testDeleteWorkspaceRaceEnable races enabling a workspace's only key
// against the workspace's deletion: either the key is enabled first and
// the delete is refused, or the delete takes the still disabled key and
// the enabling finds no key. Never both: an enabled key would have been
// deleted behind the client's back, or orphaned.
func testDeleteWorkspaceRaceEnable(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, _ := newUser(t, s)
	var enableWon, deleteWon int
	defer func() { t.Logf("the enabling won %d trials, the delete %d", enableWon, deleteWon) }()
	for i := range 50 {
		w := newWorkspace(t, s, u.ID, fmt.Sprintf("race-%d", i), t0)
		k := newDisabledKey(t, s, w)
		var updErr, delErr error
		var deleted []string
		var wg sync.WaitGroup
		wg.Go(func() {
			_, _, updErr = s.UpdateKey(ctx, k.Hash, keygate.KeyPatch{Disabled: ptr(false), UpdatedAt: at(time.Minute)})
		})
		wg.Go(func() { deleted, delErr = s.DeleteWorkspace(ctx, w.ID) })
		wg.Wait()
		got, keyErr := s.Key(ctx, k.Hash)
		_, wsErr := s.Workspace(ctx, w.ID)
		switch {
		case updErr == nil && delErr == nil:
			t.Fatalf("trial %d: both the enabling and DeleteWorkspace succeeded", i)
		case updErr == nil:
			enableWon++
			wantErr(t, "DeleteWorkspace(after the enabling won)", delErr, keygate.ErrConflict)
			if keyErr != nil || got.Disabled || wsErr != nil {
				t.Fatalf("trial %d: after the enabling won: key %+v, %v; workspace %v; want both there, key enabled", i, got, keyErr, wsErr)
			}
		case delErr == nil:
			deleteWon++
			wantErr(t, "UpdateKey(after the delete won)", updErr, keygate.ErrNotFound)
			wantErr(t, "Key(after the delete won)", keyErr, keygate.ErrNotFound)
			wantErr(t, "Workspace(after the delete won)", wsErr, keygate.ErrNotFound)
			diff(t, "DeleteWorkspace deleted keys", []string{k.Hash}, deleted)
		default:
			t.Fatalf("trial %d: UpdateKey = %v, DeleteWorkspace = %v; want one to succeed", i, updErr, delErr)
		}
	}
}

// testDeleteWorkspaceRaceRedeem races the redemption of a workspace's
// pending code against the workspace's deletion. The two touch the same
// rows from opposite ends (the redemption claims the code, then inserts a
// key that refers to the workspace; the delete removes the workspace and
// with it the code), and each must either win whole or lose cleanly with
// its own error, never fail otherwise (a deadlock, a foreign key broken
// half-way). When the redemption wins, the delete then follows its rules:
// refused while the minted key is enabled, and taking the key with it when
// it is disabled, which alternate trials insert.
func testDeleteWorkspaceRaceRedeem(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	u, _ := newUser(t, s)
	var redeemWon, deleteWon int
	defer func() { t.Logf("the redemption won %d trials, the delete %d", redeemWon, deleteWon) }()
	for i := range 50 {
		w := newWorkspace(t, s, u.ID, fmt.Sprintf("race-%d", i), t0)
		c := newCode(t, s, w)
		k := keyFor(w, at(time.Minute))
		k.Disabled = i%2 == 1
		// One side starts up to 0.9 ms after the other, in steps, first
		// the redemption, then the delete: the window in which each holds
		// its first lock and wants the other's is a few round trips wide,
		// and this sweeps it whatever the speed of the machine.
		var redeemDelay, deleteDelay time.Duration
		if step := time.Duration(i%10) * 100 * time.Microsecond; i%20 < 10 {
			redeemDelay = step
		} else {
			deleteDelay = step
		}
		var redeemErr, delErr error
		var deleted []string
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			time.Sleep(redeemDelay)
			redeemErr = s.RedeemAuthCode(ctx, c.Hash, at(time.Minute), k, nil)
		})
		wg.Go(func() {
			<-start
			time.Sleep(deleteDelay)
			deleted, delErr = s.DeleteWorkspace(ctx, w.ID)
		})
		close(start)
		wg.Wait()
		_, keyErr := s.Key(ctx, k.Hash)
		_, wsErr := s.Workspace(ctx, w.ID)
		code, codeErr := s.AuthCode(ctx, c.Hash)
		switch {
		case redeemErr == nil && !k.Disabled:
			redeemWon++
			if !errors.Is(delErr, keygate.ErrConflict) {
				t.Fatalf("trial %d: the code minted an enabled key, then DeleteWorkspace = %v; want ErrConflict", i, delErr)
			}
			if keyErr != nil || wsErr != nil || codeErr != nil || code.UsedAt == nil || code.KeyHash != k.Hash {
				t.Fatalf("trial %d: after the redemption won and the delete was refused: key %v, workspace %v, code %+v, %v; want all there, the code used by the key",
					i, keyErr, wsErr, code, codeErr)
			}
		case redeemErr == nil:
			redeemWon++
			if delErr != nil {
				t.Fatalf("trial %d: the code minted a disabled key, then DeleteWorkspace = %v; want it to take the key along", i, delErr)
			}
			diff(t, fmt.Sprintf("trial %d: DeleteWorkspace deleted keys", i), []string{k.Hash}, deleted)
			if !errors.Is(keyErr, keygate.ErrNotFound) || !errors.Is(wsErr, keygate.ErrNotFound) || !errors.Is(codeErr, keygate.ErrNotFound) {
				t.Fatalf("trial %d: after the delete took the minted key: key %v, workspace %v, code %v; want all gone", i, keyErr, wsErr, codeErr)
			}
		case delErr == nil:
			deleteWon++
			if !errors.Is(redeemErr, keygate.ErrNotFound) && !errors.Is(redeemErr, keygate.ErrCodeUsed) {
				t.Fatalf("trial %d: the delete won, then RedeemAuthCode = %v; want ErrNotFound or ErrCodeUsed", i, redeemErr)
			}
			if len(deleted) != 0 {
				t.Fatalf("trial %d: the delete won before any key was minted, yet deleted keys %v", i, deleted)
			}
			if !errors.Is(keyErr, keygate.ErrNotFound) || !errors.Is(wsErr, keygate.ErrNotFound) || !errors.Is(codeErr, keygate.ErrNotFound) {
				t.Fatalf("trial %d: after the delete won: key %v, workspace %v, code %v; want all gone", i, keyErr, wsErr, codeErr)
			}
		default:
			t.Fatalf("trial %d: RedeemAuthCode = %v, DeleteWorkspace = %v; want one to succeed and the other to lose cleanly", i, redeemErr, delErr)
		}
	}
}

// testDeleteWorkspaceAnnounces: the disabled keys deleted with a workspace
// are announced on the change feed like any deleted key, so that every
// process drops them from its cache; a refused delete announces nothing.
func testDeleteWorkspaceAnnounces(t *testing.T, s keygate.Store) {
	ctx := t.Context()
	l := Listen(t, feedOf(t, s))
	u, ws := newUser(t, s)
	refused := newWorkspace(t, s, u.ID, "refused", t0)
	kept := newDisabledKey(t, s, refused)
	newKey(t, s, refused, t0)
	gone := newWorkspace(t, s, u.ID, "gone", t0)
	k := newDisabledKey(t, s, gone)
	marker := newKey(t, s, ws, t0)
	l.Watch(kept.Hash, k.Hash, marker.Hash)

	_, err := s.DeleteWorkspace(ctx, refused.ID)
	wantErr(t, "DeleteWorkspace(holds an enabled key)", err, keygate.ErrConflict)
	_, err = s.DeleteWorkspace(ctx, gone.ID)
	must(t, "DeleteWorkspace(disabled keys only)", err)
	must(t, "DeleteKey(marker)", s.DeleteKey(ctx, marker.Hash))
	l.Want(t, Event{keygate.ChangeKey, k.Hash})
	l.Want(t, Event{keygate.ChangeKey, marker.Hash})
}
