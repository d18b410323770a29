package keygate_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/keygate/keygate"
)

// lateDelete is a real store on which a workspace is deleted just after
// it is read: the moment at which a concurrent DELETE of the workspace
// lands between the service's check of the workspace and its insert.
type lateDelete struct {
	keygate.Store
}

func (s lateDelete) Workspace(ctx context.Context, id string) (*keygate.Workspace, error) {
	w, err := s.Store.Workspace(ctx, id)
	if err == nil {
		if _, err := s.Store.DeleteWorkspace(ctx, id); err != nil {
			return nil, err
		}
	}
	return w, err
}

// TestCreateRacingWorkspaceDelete: a code or key created in a workspace
// that is deleted meanwhile gets the 4xx it would get had the delete come
// first (EINVALID workspace_id), not an internal error.
func TestCreateRacingWorkspaceDelete(t *testing.T) {
	f := newFixture(t)
	svc := keygate.NewService(lateDelete{f.store}, keygate.DefaultConfig(),
		keygate.WithClock(f.clock.Now), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	tests := []struct {
		name   string
		create func(workspaceID string) error
	}{
		{"code", func(id string) error {
			_, err := svc.CreateAuthCode(f.ctx, keygate.Actor{UserID: f.user.ID},
				&keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb", WorkspaceID: id}, keygate.Attribution{})
			return err
		}},
		{"key", func(id string) error {
			_, _, err := svc.CreateKey(f.ctx, keygate.NewKeyParams{UserID: f.user.ID, Name: "k", WorkspaceID: &id})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: "doomed " + tt.name})
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, tt.create(w.ID), keygate.EINVALID, "workspace_id is not one of your workspaces")
		})
	}
}
