package server_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestUpdateWorkspaceConcurrentPatches sends, at the same moment, PATCHes
// of different members of one workspace: its name, its default text model
// and an observability switch. All answer 200, so all changes must hold: a
// PATCH that read the workspace before another one wrote it must not write
// the old value back.
func TestUpdateWorkspaceConcurrentPatches(t *testing.T) {
	const trials = 60
	e := newEnv(t)
	for trial := range trials {
		id := e.createWorkspace(map[string]any{"name": fmt.Sprintf("Trial %d", trial)})["id"].(string)
		name, model := fmt.Sprintf("renamed-%d", trial), fmt.Sprintf("vendor/model-%d", trial)
		patches := []string{
			`{"name":"` + name + `"}`,
			`{"default_text_model":"` + model + `"}`,
			`{"is_observability_broadcast_enabled":true}`,
		}

		errs := make([]error, len(patches))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, body := range patches {
			wg.Go(func() {
				<-start
				errs[i] = e.send("PATCH", "/api/v1/workspaces/"+id, e.mgmtKey, body, http.StatusOK)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d: PATCH %s: %v", trial, patches[i], err)
			}
		}

		w, err := e.store.Workspace(context.Background(), id)
		if err != nil {
			t.Fatalf("trial %d: stored workspace: %v", trial, err)
		}
		if w.Name != name || w.DefaultTextModel == nil || *w.DefaultTextModel != model || !w.IsObservabilityBroadcastEnabled {
			t.Fatalf("trial %d: stored workspace name=%q default_text_model=%v is_observability_broadcast_enabled=%v after all PATCHes answered 200, want %q, %q, true",
				trial, w.Name, deref(w.DefaultTextModel), w.IsObservabilityBroadcastEnabled, name, model)
		}
		got := e.mgmt("GET", "/api/v1/workspaces/"+id, nil).json(t)["data"].(map[string]any)
		if got["name"] != name || got["default_text_model"] != model || got["is_observability_broadcast_enabled"] != true {
			t.Fatalf("trial %d: GET after the PATCHes: name %v, default_text_model %v, is_observability_broadcast_enabled %v; want %q, %q, true",
				trial, got["name"], got["default_text_model"], got["is_observability_broadcast_enabled"], name, model)
		}
	}
}

// TestUpdateWorkspaceSameValues: a PATCH that stores what the workspace
// already holds answers 200 with the workspace and leaves it as it was,
// updated_at included; the next PATCH that changes a member moves it.
func TestUpdateWorkspaceSameValues(t *testing.T) {
	e := newEnv(t)
	id := e.createWorkspace(map[string]any{"name": "Prod", "description": "old", "default_text_model": "openai/gpt-4o"})["id"].(string)
	e.clock.Advance(time.Minute)
	same := `{"name":"Prod","slug":"prod","description":"old","default_text_model":"openai/gpt-4o","default_image_model":null,"io_logging_sampling_rate":1,"is_observability_broadcast_enabled":false}`
	r := e.mgmt("PATCH", "/api/v1/workspaces/"+id, same)
	if r.status != http.StatusOK {
		t.Fatalf("PATCH with the stored values: %d %s", r.status, r.body)
	}
	if got := r.json(t)["data"].(map[string]any); got["updated_at"] != nil || got["name"] != "Prod" {
		t.Errorf("PATCH with the stored values answered name %v, updated_at %v; want Prod, null", got["name"], got["updated_at"])
	}
	if w, err := e.store.Workspace(context.Background(), id); err != nil || w.UpdatedAt != nil {
		t.Fatalf("stored workspace after a PATCH with the stored values: %+v, %v; want updated_at unset", w, err)
	}
	e.clock.Advance(time.Minute)
	r = e.mgmt("PATCH", "/api/v1/workspaces/"+id, `{"name":"Prod","description":"new"}`)
	if r.status != http.StatusOK {
		t.Fatalf("PATCH of the description: %d %s", r.status, r.body)
	}
	if got := r.json(t)["data"].(map[string]any); got["updated_at"] != "2026-03-04T12:02:00.000Z" || got["description"] != "new" {
		t.Errorf("PATCH of the description answered description %v, updated_at %v; want new, 2026-03-04T12:02:00.000Z", got["description"], got["updated_at"])
	}
}

// deref returns *p for a message, or "null".
func deref(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}
