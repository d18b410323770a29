package keygate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestConsent checks that the consent page is offered what the API flow
// would do: workspace_id in any case, every workspace past the first
// hundred, and the key label the code would get.
func TestConsent(t *testing.T) {
	f := newFixture(t)
	var last *keygate.Workspace
	for i := range keygate.MaxWorkspacePage + 1 { // with the default: 102
		f.clock.Set(f.clock.Now().Add(time.Second))
		w, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: f.user.ID, Name: fmt.Sprintf("w %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		last = w
	}
	mallory := f.newUser("mallory@example.com")
	theirs, err := f.svc.CreateWorkspace(f.ctx, keygate.NewWorkspaceParams{UserID: mallory.ID, Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	def, err := f.svc.GetWorkspace(f.ctx, f.user.ID, "default")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                  string
		req                   keygate.AuthCodeRequest
		wantSelected          string
		wantLabel, wantApp    string
		wantHeadless          bool
		wantCode, wantMessage string
	}{
		{"default", keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb"}, def.ID, "app.example.com", "app.example.com", false, "", ""},
		{"101st", keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb", WorkspaceID: last.ID}, last.ID, "app.example.com", "app.example.com", false, "", ""},
		{"upper-case-id", keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb", WorkspaceID: strings.ToUpper(last.ID)}, last.ID, "app.example.com", "app.example.com", false, "", ""},
		{"label", keygate.AuthCodeRequest{CallbackURL: "http://localhost:3000/cb", KeyLabel: " mine "}, def.ID, "mine", "localhost:3000", false, "", ""},
		{"loopback-title", keygate.AuthCodeRequest{CallbackURL: "http://localhost:3000/cb"}, def.ID, "localhost:3000", "localhost:3000", false, "", ""},
		{"headless", keygate.AuthCodeRequest{Headless: true, CodeChallenge: strings.Repeat("a", 43)}, def.ID, "Headless sign-in", "Headless sign-in", true, "", ""},
		{"other-users", keygate.AuthCodeRequest{CallbackURL: "https://app.example.com/cb", WorkspaceID: theirs.ID}, "", "", "", false, keygate.EINVALID, "workspace_id is not one of your workspaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := f.svc.ValidateAuthCodeRequest(&tt.req)
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.svc.Consent(f.ctx, f.user.ID, spec)
			wantCode(t, err, tt.wantCode, tt.wantMessage)
			if err != nil {
				return
			}
			if len(c.Workspaces) != keygate.MaxWorkspacePage+2 {
				t.Errorf("Consent offers %d workspaces, want %d", len(c.Workspaces), keygate.MaxWorkspacePage+2)
			}
			if c.Selected.ID != tt.wantSelected || c.KeyLabel != tt.wantLabel || c.App.Title != tt.wantApp || c.App.Headless() != tt.wantHeadless {
				t.Errorf("Consent = selected %s, label %q, app %q (headless %t); want %s, %q, %q (%t)",
					c.Selected.ID, c.KeyLabel, c.App.Title, c.App.Headless(), tt.wantSelected, tt.wantLabel, tt.wantApp, tt.wantHeadless)
			}
			// Approving now gives the code the same label and workspace.
			code, err := f.svc.CreateAuthCode(f.ctx, keygate.Actor{UserID: f.user.ID}, &tt.req, keygate.Attribution{})
			if err != nil {
				t.Fatalf("CreateAuthCode: %v", err)
			}
			stored, err := f.store.AuthCode(f.ctx, keygate.HashSecret(code.Code))
			if err != nil || stored.KeyLabel != c.KeyLabel || stored.WorkspaceID != c.Selected.ID {
				t.Errorf("stored code = %+v, %v; want label %q in %s", stored, err, c.KeyLabel, c.Selected.ID)
			}
		})
	}
}
