package keygate

import (
	"context"
	"fmt"
)

// Consent is what the consent page of the browser flow shows for a valid
// request: the same app, key label and workspace that CreateAuthCode
// would use if the user approved now.
type Consent struct {
	// App is AppOf the callback URL: a browser's attribution headers are
	// not trusted, so the app is named by its callback (or is the
	// headless app).
	App *App
	// KeyLabel is the request's key_label, or the app's title.
	KeyLabel string
	// Workspaces are all the user's workspaces, oldest first.
	Workspaces []*Workspace
	// Selected is the workspace the code goes to unless the user picks
	// another: the request's workspace_id (in any case), or the default.
	Selected *Workspace
}

// Consent returns what the consent page shows userID for spec, a request
// ValidateAuthCodeRequest accepted. Errors: EINVALID "workspace_id …"
// when the requested workspace is not one of the user's, as
// CreateAuthCode would answer on approval.
func (s *Service) Consent(ctx context.Context, userID string, spec *AuthCodeSpec) (*Consent, error) {
	selected, err := s.resolveWorkspace(ctx, userID, spec.workspaceRef(), "workspace_id")
	if err != nil {
		return nil, err
	}
	list, _, err := s.store.ListWorkspaces(ctx, userID, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	app := AppOf(Attribution{}, spec.CallbackURL)
	return &Consent{App: app, KeyLabel: keyLabelOr(spec.KeyLabel, app.Title), Workspaces: list, Selected: selected}, nil
}
