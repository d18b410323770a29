package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestReplicaRevokeAppSeenEverywhere revokes an app's keys from the apps
// page of one replica while the others have the keys cached: each refuses
// them within a second, through the store's change feed.
func TestReplicaRevokeAppSeenEverywhere(t *testing.T) {
	rs := newReplicas(t, 3)
	u, _, _ := owner(t, rs)
	ctx := t.Context()
	app, err := rs[0].db.UpsertApp(ctx, &keygate.App{URL: "https://notes.example", Title: "Notes", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := rs[0].svc.GetWorkspace(ctx, u.ID, "default")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range 2 {
		secret := keygate.NewKey(keygate.DefaultKeyPrefix)
		k := &keygate.APIKey{Hash: keygate.HashSecret(secret), UserID: u.ID, WorkspaceID: ws.ID, AppID: &app.ID, Name: "Notes", Label: "Notes", CreatedAt: time.Now()}
		if err := rs[0].db.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, secret)
		for _, r := range rs[1:] { // cached by serving it
			if st, body := r.call(t, "GET", "/api/v1/key", secret, nil); st != http.StatusOK {
				t.Fatalf("%s: GET /api/v1/key = %d %s", r.name, st, body)
			}
		}
	}
	token, err := rs[0].svc.Login(ctx, "owner@example.com", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, sess, err := rs[0].svc.SessionUser(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	res := browseURL(t, rs[0].srv.URL+"/settings/apps/"+strconv.FormatInt(app.ID, 10)+"/revoke", "POST",
		url.Values{"form_token": {sess.CSRFToken}}, []string{"keygate_session=" + token})
	if res.status != http.StatusSeeOther {
		t.Fatalf("revoke = %d %s", res.status, res.body)
	}
	for _, r := range rs[1:] {
		for _, key := range keys {
			waitStatus(t, r, key, http.StatusUnauthorized, time.Second)
		}
	}
}
