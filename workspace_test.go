package keygate_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate"
)

func TestSlugFrom(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Production", "production"},
		{"My  Team's -- Sandbox!", "my-team-s-sandbox"},
		{"  leading and trailing  ", "leading-and-trailing"},
		{"Café 2", "caf-2"},
		{"日本語", "workspace"},
		{"---", "workspace"},
		{strings.Repeat("ab ", 30), strings.TrimSuffix(strings.Repeat("ab-", 17), "-")},
		{"3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f", "workspace"},
	}
	for _, tt := range tests {
		got := keygate.SlugFrom(tt.name)
		if got != tt.want {
			t.Errorf("SlugFrom(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if err := keygate.CheckSlug("slug", got); err != nil {
			t.Errorf("SlugFrom(%q) = %q, which CheckSlug refuses: %v", tt.name, got, err)
		}
	}
}

func TestCheckSlug(t *testing.T) {
	tests := []struct {
		slug string
		ok   bool
	}{
		{"production", true},
		{"a", true},
		{"team-2-prod", true},
		{strings.Repeat("a", 50), true},
		{strings.Repeat("a", 51), false},
		{"", false},
		{"Prod", false},
		{"-prod", false},
		{"prod-", false},
		{"a--b", false},
		{"a_b", false},
		{"a b", false},
		{"3f2c8a4e-9b1d-4c7e-8f6a-2d5b9e0c1a7f", false},
	}
	for _, tt := range tests {
		if err := keygate.CheckSlug("slug", tt.slug); (err == nil) != tt.ok {
			t.Errorf("CheckSlug(%q) = %v, want ok %v", tt.slug, err, tt.ok)
		}
	}
}

func TestCreateWorkspace(t *testing.T) {
	long := strings.Repeat("é", 101)
	desc501 := strings.Repeat("d", 501)
	tests := []struct {
		name     string
		p        keygate.NewWorkspaceParams
		wantSlug string
		code     string
		msg      string
	}{
		{"derived-slug", keygate.NewWorkspaceParams{Name: "Staging Area"}, "staging-area", "", ""},
		{"explicit-slug", keygate.NewWorkspaceParams{Name: "Prod", Slug: ptr("prod-eu")}, "prod-eu", "", ""},
		{"with-description", keygate.NewWorkspaceParams{Name: "Docs", Description: ptr("for docs")}, "docs", "", ""},
		{"name-missing", keygate.NewWorkspaceParams{}, "", keygate.EINVALID, "name"},
		{"name-blank", keygate.NewWorkspaceParams{Name: "  "}, "", keygate.EINVALID, "name"},
		{"name-101", keygate.NewWorkspaceParams{Name: long}, "", keygate.EINVALID, "name"},
		{"name-control", keygate.NewWorkspaceParams{Name: "a\nb"}, "", keygate.EINVALID, "name"},
		{"slug-bad", keygate.NewWorkspaceParams{Name: "x", Slug: ptr("Bad Slug")}, "", keygate.EINVALID, "slug"},
		{"slug-uuid", keygate.NewWorkspaceParams{Name: "x", Slug: ptr(uuid.NewString())}, "", keygate.EINVALID, "slug"},
		{"description-501", keygate.NewWorkspaceParams{Name: "x", Description: &desc501}, "", keygate.EINVALID, "description"},
		{"slug-taken-by-default", keygate.NewWorkspaceParams{Name: "Default"}, "", keygate.ECONFLICT, "slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := tt.p
			p.UserID = f.user.ID
			w, err := f.svc.CreateWorkspace(f.ctx, p)
			wantCode(t, err, tt.code, tt.msg)
			if err != nil {
				return
			}
			got, err := f.store.Workspace(f.ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Slug != tt.wantSlug || got.UserID != f.user.ID || got.IsDefault {
				t.Errorf("stored %+v, want slug %q, user %s, not default", got, tt.wantSlug, f.user.ID)
			}
		})
	}
	t.Run("same-slug-other-user", func(t *testing.T) {
		f := newFixture(t)
		mallory := f.newUser("mallory@example.com")
		for _, u := range []string{f.user.ID, mallory.ID} {
			if _, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: u, Name: "Shared Name"}); err != nil {
				t.Fatalf("user %s: %v", u, err)
			}
		}
		_, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "shared name"})
		wantCode(t, err, keygate.ECONFLICT, "shared-name")
	})
}

// TestWorkspaceSettings: CreateWorkspace applies the settings it is given
// over the defaults, and refuses, naming the member, one out of its range.
func TestWorkspaceSettings(t *testing.T) {
	defaults := keygate.WorkspaceSettings{IOLoggingSamplingRate: 1}
	tests := []struct {
		name string
		u    keygate.WorkspaceSettingsUpdate
		want keygate.WorkspaceSettings // when no error
		msg  string                    // the member an EINVALID names
	}{
		{"none", keygate.WorkspaceSettingsUpdate{}, defaults, ""},
		{"all", keygate.WorkspaceSettingsUpdate{
			SetDefaultTextModel: true, DefaultTextModel: ptr("openai/gpt-4o"),
			SetDefaultImageModel: true, DefaultImageModel: ptr("openai/dall-e-3"),
			SetDefaultProviderSort: true, DefaultProviderSort: ptr("throughput"),
			SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{1, 2},
			SetDisabledServerTools: true, DisabledServerTools: []string{"openrouter:web_fetch"},
			IOLoggingSamplingRate:        ptr(0.5),
			IsDataDiscountLoggingEnabled: ptr(true), IsObservabilityBroadcastEnabled: ptr(true), IsObservabilityIOLoggingEnabled: ptr(true),
		}, keygate.WorkspaceSettings{
			DefaultTextModel: ptr("openai/gpt-4o"), DefaultImageModel: ptr("openai/dall-e-3"), DefaultProviderSort: ptr("throughput"),
			IOLoggingAPIKeyIDs: []int64{1, 2}, IOLoggingSamplingRate: 0.5,
			IsDataDiscountLoggingEnabled: true, IsObservabilityBroadcastEnabled: true, IsObservabilityIOLoggingEnabled: true,
			DisabledServerTools: []string{"openrouter:web_fetch"},
		}, ""},
		{"null-models-are-defaults", keygate.WorkspaceSettingsUpdate{SetDefaultTextModel: true, SetDefaultProviderSort: true}, defaults, ""},
		{"empty-tools-are-none", keygate.WorkspaceSettingsUpdate{SetDisabledServerTools: true, DisabledServerTools: []string{}}, defaults, ""},
		{"empty-key-ids-kept", keygate.WorkspaceSettingsUpdate{SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{}},
			keygate.WorkspaceSettings{IOLoggingSamplingRate: 1, IOLoggingAPIKeyIDs: []int64{}}, ""},
		{"tools-repeats-dropped", keygate.WorkspaceSettingsUpdate{SetDisabledServerTools: true, DisabledServerTools: []string{"openrouter:bash", "openrouter:bash"}},
			keygate.WorkspaceSettings{IOLoggingSamplingRate: 1, DisabledServerTools: []string{"openrouter:bash"}}, ""},
		{"rate-min", keygate.WorkspaceSettingsUpdate{IOLoggingSamplingRate: ptr(keygate.MinIOLoggingSamplingRate)},
			keygate.WorkspaceSettings{IOLoggingSamplingRate: 0.0001}, ""},
		{"rate-0", keygate.WorkspaceSettingsUpdate{IOLoggingSamplingRate: ptr(0.0)}, defaults, "io_logging_sampling_rate"},
		{"rate-nan", keygate.WorkspaceSettingsUpdate{IOLoggingSamplingRate: ptr(math.NaN())}, defaults, "io_logging_sampling_rate"},
		{"rate-inf", keygate.WorkspaceSettingsUpdate{IOLoggingSamplingRate: ptr(math.Inf(1))}, defaults, "io_logging_sampling_rate"},
		{"rate-above-1", keygate.WorkspaceSettingsUpdate{IOLoggingSamplingRate: ptr(1.5)}, defaults, "io_logging_sampling_rate"},
		{"sort-unknown", keygate.WorkspaceSettingsUpdate{SetDefaultProviderSort: true, DefaultProviderSort: ptr("speed")}, defaults, "default_provider_sort"},
		{"text-model-empty", keygate.WorkspaceSettingsUpdate{SetDefaultTextModel: true, DefaultTextModel: ptr("")}, defaults, "default_text_model"},
		{"text-model-tab", keygate.WorkspaceSettingsUpdate{SetDefaultTextModel: true, DefaultTextModel: ptr("a\tb")}, defaults, "default_text_model"},
		{"image-model-nbsp", keygate.WorkspaceSettingsUpdate{SetDefaultImageModel: true, DefaultImageModel: ptr("a\u00a0b")}, defaults, "default_image_model"},
		{"image-model-invalid-utf8", keygate.WorkspaceSettingsUpdate{SetDefaultImageModel: true, DefaultImageModel: ptr("a\xffb")}, defaults, "default_image_model"},
		{"image-model-201", keygate.WorkspaceSettingsUpdate{SetDefaultImageModel: true, DefaultImageModel: ptr(strings.Repeat("é", 201))}, defaults, "default_image_model"},
		{"key-id-0", keygate.WorkspaceSettingsUpdate{SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{1, 0}}, defaults, "io_logging_api_key_ids[1]"},
		{"key-id-2-53", keygate.WorkspaceSettingsUpdate{SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: []int64{1 << 53}}, defaults, "io_logging_api_key_ids[0]"},
		{"key-ids-too-many", keygate.WorkspaceSettingsUpdate{SetIOLoggingAPIKeyIDs: true, IOLoggingAPIKeyIDs: make([]int64, keygate.MaxIOLoggingAPIKeyIDs+1)}, defaults, "io_logging_api_key_ids"},
		{"tool-bad", keygate.WorkspaceSettingsUpdate{SetDisabledServerTools: true, DisabledServerTools: []string{"openrouter:web_search", "openrouter:web search"}}, defaults, "disabled_server_tools[1]"},
		{"tool-trailing-underscore", keygate.WorkspaceSettingsUpdate{SetDisabledServerTools: true, DisabledServerTools: []string{"openrouter:bash_"}}, defaults, "disabled_server_tools[0]"},
		{"tools-too-many", keygate.WorkspaceSettingsUpdate{SetDisabledServerTools: true, DisabledServerTools: slices.Repeat([]string{"openrouter:bash"}, keygate.MaxDisabledServerTools+1)}, defaults, "disabled_server_tools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Configured", Settings: tt.u})
			if tt.msg != "" {
				wantCode(t, err, keygate.EINVALID, tt.msg)
				return
			}
			wantCode(t, err, "", "")
			stored, err := f.store.Workspace(f.ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range []*keygate.Workspace{w, stored} {
				if !reflect.DeepEqual(got.WorkspaceSettings, tt.want) {
					t.Errorf("settings = %+v, want %+v", got.WorkspaceSettings, tt.want)
				}
			}
		})
	}
	t.Run("default-workspace-has-defaults", func(t *testing.T) {
		f := newFixture(t)
		def, err := f.svc.GetWorkspace(f.ctx, f.user.ID, "default")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(def.WorkspaceSettings, defaults) {
			t.Errorf("default workspace settings = %+v, want %+v", def.WorkspaceSettings, defaults)
		}
	})
}

func TestGetWorkspace(t *testing.T) {
	f := newFixture(t)
	w, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Prod"})
	if err != nil {
		t.Fatal(err)
	}
	mallory := f.newUser("mallory@example.com")
	tests := []struct {
		name, user, ref, code string
	}{
		{"by-id", f.user.ID, w.ID, ""},
		{"by-upper-case-id", f.user.ID, strings.ToUpper(w.ID), ""},
		{"by-slug", f.user.ID, "prod", ""},
		{"other-users-id", mallory.ID, w.ID, keygate.ENOTFOUND},
		{"other-users-slug", mallory.ID, "prod", keygate.ENOTFOUND},
		{"unknown-id", f.user.ID, uuid.NewString(), keygate.ENOTFOUND},
		{"unknown-slug", f.user.ID, "nope", keygate.ENOTFOUND},
		{"not-a-slug", f.user.ID, "Not A Slug", keygate.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.svc.GetWorkspace(f.ctx, tt.user, tt.ref)
			wantCode(t, err, tt.code, "")
			if err == nil && got.ID != w.ID {
				t.Errorf("GetWorkspace(%q) = %s, want %s", tt.ref, got.ID, w.ID)
			}
		})
	}
}

func TestGetWorkspaceBySlugPastFirstPage(t *testing.T) {
	f := newFixture(t)
	var last *keygate.Workspace
	for i := range keygate.MaxWorkspacePage + 3 {
		f.clock.Set(f.clock.Now().Add(time.Second))
		w, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: fmt.Sprintf("w %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		last = w
	}
	got, err := f.svc.GetWorkspace(f.ctx, f.user.ID, last.Slug)
	if err != nil || got.ID != last.ID {
		t.Fatalf("GetWorkspace(%q) = %v, %v; want %s", last.Slug, got, err, last.ID)
	}
}

func TestUpdateWorkspace(t *testing.T) {
	tests := []struct {
		name  string
		u     keygate.WorkspaceUpdate
		code  string
		msg   string
		check func(t *testing.T, w *keygate.Workspace)
	}{
		{"rename", keygate.WorkspaceUpdate{Name: ptr("Renamed")}, "", "", func(t *testing.T, w *keygate.Workspace) {
			if w.Name != "Renamed" || w.Slug != "prod" || w.UpdatedAt == nil {
				t.Errorf("got %+v, want name Renamed, slug prod kept, updated_at set", w)
			}
		}},
		{"new-slug", keygate.WorkspaceUpdate{Slug: ptr("live")}, "", "", func(t *testing.T, w *keygate.Workspace) {
			if w.Slug != "live" {
				t.Errorf("slug = %q, want live", w.Slug)
			}
		}},
		{"clear-description", keygate.WorkspaceUpdate{SetDescription: true}, "", "", func(t *testing.T, w *keygate.Workspace) {
			if w.Description != nil {
				t.Errorf("description = %q, want none", *w.Description)
			}
		}},
		{"set-description", keygate.WorkspaceUpdate{SetDescription: true, Description: ptr("new")}, "", "", func(t *testing.T, w *keygate.Workspace) {
			if w.Description == nil || *w.Description != "new" {
				t.Errorf("description = %v, want new", w.Description)
			}
		}},
		{"nothing", keygate.WorkspaceUpdate{}, "", "", func(t *testing.T, w *keygate.Workspace) {
			if w.UpdatedAt != nil {
				t.Errorf("updated_at = %v after an empty update", w.UpdatedAt)
			}
		}},
		{"settings-only", keygate.WorkspaceUpdate{WorkspaceSettingsUpdate: keygate.WorkspaceSettingsUpdate{
			SetDefaultTextModel: true, DefaultTextModel: ptr("openai/gpt-4o"), IsObservabilityBroadcastEnabled: ptr(true),
		}}, "", "", func(t *testing.T, w *keygate.Workspace) {
			if w.DefaultTextModel == nil || *w.DefaultTextModel != "openai/gpt-4o" || !w.IsObservabilityBroadcastEnabled ||
				w.IOLoggingSamplingRate != 1 || w.Name != "Prod" || w.UpdatedAt == nil {
				t.Errorf("got %+v, want the text model and broadcast set, the rest kept, updated_at set", w)
			}
		}},
		{"setting-out-of-range", keygate.WorkspaceUpdate{Name: ptr("Renamed"), WorkspaceSettingsUpdate: keygate.WorkspaceSettingsUpdate{
			IOLoggingSamplingRate: ptr(0.0),
		}}, keygate.EINVALID, "io_logging_sampling_rate", nil},
		{"slug-conflict", keygate.WorkspaceUpdate{Slug: ptr("default")}, keygate.ECONFLICT, "default", nil},
		{"slug-bad", keygate.WorkspaceUpdate{Slug: ptr("-x")}, keygate.EINVALID, "slug", nil},
		{"name-empty", keygate.WorkspaceUpdate{Name: ptr("")}, keygate.EINVALID, "name", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Prod", Description: ptr("old")})
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.UpdateWorkspace(f.ctx, f.user.ID, w.ID, tt.u)
			wantCode(t, err, tt.code, tt.msg)
			stored, serr := f.store.Workspace(f.ctx, w.ID)
			if serr != nil {
				t.Fatal(serr)
			}
			if err != nil {
				if stored.Name != "Prod" || stored.Slug != "prod" || stored.UpdatedAt != nil {
					t.Errorf("a refused update changed the workspace: %+v", stored)
				}
				return
			}
			tt.check(t, got)
			tt.check(t, stored)
		})
	}
}

func TestDeleteWorkspace(t *testing.T) {
	f := newFixture(t)
	def, err := f.store.DefaultWorkspace(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	full, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Full"})
	if err != nil {
		t.Fatal(err)
	}
	_, k := f.newKey(keygate.NewKeyParams{WorkspaceID: &full.ID})
	empty, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Empty"})
	if err != nil {
		t.Fatal(err)
	}
	dormant, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Dormant"})
	if err != nil {
		t.Fatal(err)
	}
	off, dk := f.newKey(keygate.NewKeyParams{WorkspaceID: &dormant.ID})
	if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, dk.Hash, true); err != nil {
		t.Fatal(err)
	}
	// Authenticating it now leaves the disabled key in the service's cache.
	_, err = f.svc.Authenticate(f.ctx, off)
	wantCode(t, err, keygate.EUNAUTHORIZED, "disabled")
	mixed, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "Mixed"})
	if err != nil {
		t.Fatal(err)
	}
	f.newKey(keygate.NewKeyParams{WorkspaceID: &mixed.ID})
	_, mk := f.newKey(keygate.NewKeyParams{WorkspaceID: &mixed.ID})
	if _, err := f.svc.SetKeyDisabled(f.ctx, f.user.ID, mk.Hash, true); err != nil {
		t.Fatal(err)
	}
	mallory := f.newUser("mallory@example.com")

	steps := []struct {
		name, user, ref, code string
	}{
		{"default", f.user.ID, def.ID, keygate.EFORBIDDEN},
		{"holds-keys", f.user.ID, full.ID, keygate.ECONFLICT},
		{"holds-an-enabled-and-a-disabled-key", f.user.ID, mixed.ID, keygate.ECONFLICT},
		{"holds-only-a-disabled-key", f.user.ID, dormant.ID, ""},
		{"other-user", mallory.ID, empty.ID, keygate.ENOTFOUND},
		{"empty", f.user.ID, empty.ID, ""},
		{"again", f.user.ID, empty.ID, keygate.ENOTFOUND},
		{"by-slug-after-its-keys-went", f.user.ID, "full", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.name == "by-slug-after-its-keys-went" {
				if err := f.svc.DeleteKey(f.ctx, f.user.ID, k.Hash); err != nil {
					t.Fatal(err)
				}
			}
			msg := ""
			if s.code == keygate.ECONFLICT {
				msg = "workspace still holds active API keys; disable or delete them first"
			}
			wantCode(t, f.svc.DeleteWorkspace(f.ctx, s.user, s.ref), s.code, msg)
		})
	}
	_, total, err := f.svc.ListWorkspaces(f.ctx, f.user.ID, 0, 10)
	if err != nil || total != 2 {
		t.Errorf("after the deletes the user has %d workspaces (%v), want 2 (the default and the mixed one)", total, err)
	}
	// The dormant workspace's key is gone from the store and from the
	// cache: it is now unknown, no longer merely disabled.
	if _, err := f.store.Key(f.ctx, dk.Hash); !errors.Is(err, keygate.ErrNotFound) {
		t.Errorf("Key(deleted with its workspace) = %v, want ErrNotFound", err)
	}
	_, err = f.svc.Authenticate(f.ctx, off)
	if keygate.ErrorCode(err) != keygate.EUNAUTHORIZED || strings.Contains(keygate.ErrorMessage(err), "disabled") {
		t.Errorf("Authenticate(key deleted with its workspace) = %v, want EUNAUTHORIZED for an unknown key", err)
	}
	if _, err := f.store.Key(f.ctx, mk.Hash); err != nil {
		t.Errorf("Key(disabled key of the workspace whose delete was refused) = %v, want it kept", err)
	}
}

func TestListWorkspaces(t *testing.T) {
	f := newFixture(t)
	for _, n := range []string{"B", "C"} {
		f.clock.Set(f.clock.Now().Add(time.Second)) // oldest first needs distinct times
		if _, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	f.newUser("mallory@example.com")
	tests := []struct {
		name          string
		offset, limit int
		want          string
		code, msg     string
	}{
		{"all", 0, 50, "default,b,c", "", ""},
		{"limit", 0, 2, "default,b", "", ""},
		{"offset", 1, 100, "b,c", "", ""},
		{"past-end", 9, 1, "", "", ""},
		{"offset-negative", -1, 50, "", keygate.EINVALID, "offset"},
		{"limit-zero", 0, 0, "", keygate.EINVALID, "limit"},
		{"limit-101", 0, 101, "", keygate.EINVALID, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, total, err := f.svc.ListWorkspaces(f.ctx, f.user.ID, tt.offset, tt.limit)
			wantCode(t, err, tt.code, tt.msg)
			if err != nil {
				return
			}
			var slugs []string
			for _, w := range list {
				slugs = append(slugs, w.Slug)
			}
			if got := strings.Join(slugs, ","); got != tt.want || total != 3 {
				t.Errorf("ListWorkspaces(%d, %d) = %q, total %d; want %q, total 3", tt.offset, tt.limit, got, total, tt.want)
			}
		})
	}
}
