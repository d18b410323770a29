package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/apitype"
	"github.com/keygate/keygate/client"
)

func TestKeys(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	c := kg.client(kg.mgmtKey)
	expires := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)

	created, err := c.Keys.Create(ctx, &apitype.CreateKeyRequest{
		Name:       "build bot",
		Limit:      ptr(10.0),
		LimitReset: ptr("monthly"),
		ExpiresAt:  ptr(expires.Format(time.RFC3339)),
	})
	if err != nil {
		t.Fatal(err)
	}
	k := created.Data
	if created.Key == "" || len(k.Hash) != 64 || k.Name != "build bot" || k.Limit == nil || *k.Limit != 10 ||
		k.LimitReset == nil || *k.LimitReset != "monthly" || k.ExpiresAt == nil || k.Disabled {
		t.Fatalf("Create = %+v", k)
	}
	if cur, err := kg.client(created.Key).GetCurrentKey(ctx); err != nil || cur.Label != "build bot" {
		t.Fatalf("the created key: GetCurrentKey = %+v, %v", cur, err)
	}

	got, err := c.Keys.Get(ctx, k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != k.Hash || got.Name != k.Name || *got.Limit != 10 {
		t.Errorf("Get = %+v, want %+v", got, k)
	}

	list, err := c.Keys.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !hasKey(list, k.Hash) || len(list) != 3 { // the user key, the management key and this one
		t.Errorf("List = %d keys %v, want 3 with %s", len(list), hashes(list), k.Hash)
	}

	updated, err := c.Keys.Update(ctx, k.Hash, &apitype.UpdateKeyRequest{Name: apitype.Some("retired bot"), Disabled: apitype.Some(true), Limit: apitype.Some(2.5)})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "retired bot" || !updated.Disabled || *updated.Limit != 2.5 {
		t.Errorf("Update = %+v, want renamed, disabled, limit 2.5", updated)
	}
	if _, err := kg.client(created.Key).GetCurrentKey(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("the disabled key: GetCurrentKey err = %v, want ErrUnauthorized", err)
	}
	// null removes the limit and its reset; absent members stay.
	cleared, err := c.Keys.Update(ctx, k.Hash, &apitype.UpdateKeyRequest{Limit: apitype.Null[float64](), LimitReset: apitype.Null[string]()})
	if err != nil {
		t.Fatal(err)
	}
	if cleared.Limit != nil || cleared.LimitReset != nil || cleared.Name != "retired bot" || !cleared.Disabled {
		t.Errorf("Update(limit null, limit_reset null) = %+v, want no limit, no reset, name and disabled kept", cleared)
	}
	if list, err := c.Keys.List(ctx, nil); err != nil || hasKey(list, k.Hash) {
		t.Errorf("List without disabled = %v, %v; want the disabled key left out", hashes(list), err)
	}
	if list, err := c.Keys.List(ctx, &client.ListKeysParams{IncludeDisabled: true}); err != nil || !hasKey(list, k.Hash) {
		t.Errorf("List with disabled = %v, %v; want the disabled key", hashes(list), err)
	}
	if list, err := c.Keys.List(ctx, &client.ListKeysParams{IncludeDisabled: true, Offset: 2}); err != nil || len(list) != 1 {
		t.Errorf("List from offset 2 = %v, %v; want 1 key", hashes(list), err)
	}

	if err := c.Keys.Delete(ctx, k.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Keys.Get(ctx, k.Hash); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if err := c.Keys.Delete(ctx, k.Hash); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("second Delete: err = %v, want ErrNotFound", err)
	}
}

func TestKeysErrors(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	sentinels := []error{client.ErrBadRequest, client.ErrUnauthorized, client.ErrForbidden, client.ErrNotFound,
		client.ErrConflict, client.ErrRateLimited, client.ErrServer}
	tests := []struct {
		name    string
		call    func() error
		want    error
		status  int
		message string
	}{
		{"ordinary-key", func() error { _, err := kg.client(kg.userKey).Keys.List(ctx, nil); return err },
			client.ErrForbidden, 403, "management"},
		{"no-key", func() error { _, err := kg.client("").Keys.List(ctx, nil); return err },
			client.ErrUnauthorized, 401, ""},
		{"unknown-hash", func() error {
			_, err := kg.client(kg.mgmtKey).Keys.Get(ctx, "f01d52606dc8f0a8303a7b5cc3fa07109c2e346cec7c0a16b40de462992ce943")
			return err
		},
			client.ErrNotFound, 404, ""},
		// The hash is one path segment: "../key" must not reach GET /key.
		{"hash-escaped", func() error { _, err := kg.client(kg.mgmtKey).Keys.Get(ctx, "../key"); return err },
			client.ErrNotFound, 404, ""},
		{"create-bad-limit", func() error {
			_, err := kg.client(kg.mgmtKey).Keys.Create(ctx, &apitype.CreateKeyRequest{Name: "x", Limit: ptr(-1.0)})
			return err
		}, client.ErrBadRequest, 400, "limit"},
		{"update-bad-reset", func() error {
			keys, err := kg.client(kg.mgmtKey).Keys.List(ctx, nil)
			if err != nil {
				return err
			}
			_, err = kg.client(kg.mgmtKey).Keys.Update(ctx, keys[0].Hash, &apitype.UpdateKeyRequest{LimitReset: apitype.Some("yearly")})
			return err
		}, client.ErrBadRequest, 400, "limit_reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, tt.call(), tt.want, tt.status, tt.message, sentinels)
		})
	}
}

func TestWorkspaces(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	c := kg.client(kg.mgmtKey)

	ws, err := c.Workspaces.Create(ctx, &apitype.CreateWorkspaceRequest{Name: "Research", Slug: ptr("research"), Description: ptr("experiments")})
	if err != nil {
		t.Fatal(err)
	}
	if ws.ID == "" || ws.Name != "Research" || ws.Slug != "research" || ws.Description == nil || *ws.Description != "experiments" {
		t.Fatalf("Create = %+v", ws)
	}
	for _, id := range []string{ws.ID, "research"} {
		if got, err := c.Workspaces.Get(ctx, id); err != nil || got.ID != ws.ID {
			t.Errorf("Get(%q) = %+v, %v; want %s", id, got, err, ws.ID)
		}
	}
	list, err := c.Workspaces.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list.TotalCount != 2 || len(list.Data) != 2 {
		t.Errorf("List = %d of %d, want 2 of 2 (default and research)", len(list.Data), list.TotalCount)
	}
	if page, err := c.Workspaces.List(ctx, &client.ListWorkspacesParams{Offset: 1, Limit: 1}); err != nil || len(page.Data) != 1 || page.TotalCount != 2 {
		t.Errorf("List(offset 1, limit 1) = %+v, %v; want 1 of 2", page, err)
	}

	updated, err := c.Workspaces.Update(ctx, "research", &apitype.UpdateWorkspaceRequest{Name: apitype.Some("Lab")})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "Lab" || updated.Slug != "research" {
		t.Errorf("Update = %+v, want renamed Lab, slug kept", updated)
	}

	// A workspace that holds an enabled key cannot go.
	key, err := c.Keys.Create(ctx, &apitype.CreateKeyRequest{Name: "lab key", WorkspaceID: &ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := c.Keys.List(ctx, &client.ListKeysParams{WorkspaceID: ws.ID}); err != nil || len(keys) != 1 || keys[0].Hash != key.Data.Hash {
		t.Errorf("List(workspace) = %v, %v; want only the lab key", hashes(keys), err)
	}
	err = c.Workspaces.Delete(ctx, ws.ID)
	checkError(t, err, client.ErrConflict, 409, "", []error{client.ErrBadRequest, client.ErrNotFound, client.ErrConflict, client.ErrServer})

	if err := c.Keys.Delete(ctx, key.Data.Hash); err != nil {
		t.Fatal(err)
	}
	if err := c.Workspaces.Delete(ctx, ws.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Workspaces.Get(ctx, ws.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := kg.client(kg.userKey).Workspaces.List(ctx, nil); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("List with an ordinary key: err = %v, want ErrForbidden", err)
	}
	if _, err := c.Workspaces.Create(ctx, &apitype.CreateWorkspaceRequest{}); !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("Create without a name: err = %v, want ErrBadRequest", err)
	}
}

// TestWorkspaceSettings: the settings of the request types reach the
// server and come back, an empty key id list as an empty list.
func TestWorkspaceSettings(t *testing.T) {
	kg := newKeygate(t)
	ctx := context.Background()
	c := kg.client(kg.mgmtKey)
	ws, err := c.Workspaces.Create(ctx, &apitype.CreateWorkspaceRequest{Name: "Tuned", WorkspaceSettingsRequest: apitype.WorkspaceSettingsRequest{
		DefaultTextModel: apitype.Some("openai/gpt-4o"), DefaultProviderSort: apitype.Some("latency"), IOLoggingAPIKeyIDs: apitype.Some([]int64{}),
		IOLoggingSamplingRate: apitype.Some(0.5), IsObservabilityIOLoggingEnabled: apitype.Some(true), DisabledServerTools: apitype.Some([]string{"openrouter:bash"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ws.DefaultTextModel == nil || *ws.DefaultTextModel != "openai/gpt-4o" || ws.DefaultProviderSort == nil || *ws.DefaultProviderSort != "latency" ||
		ws.IOLoggingAPIKeyIDs == nil || len(ws.IOLoggingAPIKeyIDs) != 0 || ws.IOLoggingSamplingRate != 0.5 || !ws.IsObservabilityIOLoggingEnabled ||
		!slices.Equal(ws.DisabledServerTools, []string{"openrouter:bash"}) || ws.DefaultImageModel != nil {
		t.Errorf("Create = %+v, want the settings sent", ws)
	}
	up, err := c.Workspaces.Update(ctx, ws.ID, &apitype.UpdateWorkspaceRequest{WorkspaceSettingsRequest: apitype.WorkspaceSettingsRequest{
		IOLoggingAPIKeyIDs: apitype.Some([]int64{4}), IsObservabilityIOLoggingEnabled: apitype.Some(false), DefaultTextModel: apitype.Null[string](),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(up.IOLoggingAPIKeyIDs, []int64{4}) || up.IsObservabilityIOLoggingEnabled || up.DefaultTextModel != nil || up.IOLoggingSamplingRate != 0.5 {
		t.Errorf("Update = %+v, want key ids [4], I/O logging off, no default text model, the rest kept", up)
	}
	_, err = c.Workspaces.Update(ctx, ws.ID, &apitype.UpdateWorkspaceRequest{WorkspaceSettingsRequest: apitype.WorkspaceSettingsRequest{IOLoggingSamplingRate: apitype.Some(0.0)}})
	checkError(t, err, client.ErrBadRequest, 400, "io_logging_sampling_rate", []error{client.ErrBadRequest, client.ErrNotFound, client.ErrConflict, client.ErrServer})
}

func hasKey(keys []apitype.Key, hash string) bool {
	return slices.ContainsFunc(keys, func(k apitype.Key) bool { return k.Hash == hash })
}

func hashes(keys []apitype.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Hash[:8])
	}
	return out
}
