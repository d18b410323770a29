package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// The actions on a key from the dashboard: each a POST with the session's
// form token (postForm), through the service call of the management API.

// keyUpdate serves POST /settings/keys/{hash}: name, limit, reset and an
// earlier expiry, through Service.UpdateKey (as PATCH /api/v1/keys/{hash}).
// A refused change shows the page again with the form as sent.
func (b *browser) keyUpdate(w http.ResponseWriter, r *http.Request) error {
	a, form, err := b.postForm(w, r)
	if err != nil {
		return err
	}
	hash := r.PathValue("hash")
	sent := web.KeyForm{Name: form.Get("name"), Limit: form.Get("limit"), Reset: form.Get("limit_reset"), Expires: form.Get("expires")}
	u, err := keyUpdateOf(sent)
	if err == nil {
		_, err = b.svc.UpdateKey(r.Context(), a.user.ID, hash, u)
	}
	if keygate.ErrorCode(err) == keygate.EINVALID {
		sent.Error = keygate.ErrorMessage(err)
		return b.showKey(w, r, a, http.StatusBadRequest, "", &sent)
	} else if err != nil {
		return err
	}
	seeOther(w, "/settings/keys/"+hash+"?done=saved")
	return nil
}

// keyUpdateOf maps the edit form to the service's update: every field is
// sent, an empty limit removes it, an empty expiry leaves it.
func keyUpdateOf(f web.KeyForm) (keygate.KeyUpdate, error) {
	u := keygate.KeyUpdate{Name: &f.Name, SetLimit: true, SetLimitReset: true, LimitReset: &f.Reset}
	var err error
	if u.LimitUSD, err = formLimit(f.Limit); err != nil {
		return u, err
	}
	u.ExpiresAt, err = formDate(f.Expires)
	return u, err
}

// formLimit parses a limit in USD as typed ("5", "0.50", "$5"); "" is no
// limit. The service checks the amount.
func formLimit(v string) (*float64, error) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "$")
	if v == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "limit must be an amount in USD, such as 5 or 0.50")
	}
	return &f, nil
}

// formDate turns a date input's YYYY-MM-DD into 00:00 UTC of that day in
// RFC 3339; "" is nil.
func formDate(v string) (*string, error) {
	if v == "" {
		return nil, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return nil, keygate.Errorf(keygate.EINVALID, "expires_at must be a date, YYYY-MM-DD")
	}
	s := d.UTC().Format(time.RFC3339)
	return &s, nil
}

// keySetDisabled serves POST /settings/keys/{hash}/disable and /enable
// through Service.SetKeyDisabled.
func (b *browser) keySetDisabled(disabled bool) pageHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, _, err := b.postForm(w, r)
		if err != nil {
			return err
		}
		hash := r.PathValue("hash")
		if _, err := b.svc.SetKeyDisabled(r.Context(), a.user.ID, hash, disabled); err != nil {
			return err
		}
		done := "enabled"
		if disabled {
			done = "disabled"
		}
		seeOther(w, "/settings/keys/"+hash+"?done="+done)
		return nil
	}
}

// keyDeleteForm serves GET /settings/keys/{hash}/delete: the confirmation
// step.
func (b *browser) keyDeleteForm(w http.ResponseWriter, r *http.Request) error {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return err
	}
	k, err := b.svc.KeyActivity(r.Context(), a.user.ID, r.PathValue("hash"))
	if err != nil {
		return err
	}
	return b.pages.KeyDelete(w, http.StatusOK, web.KeyDeletePage{Nav: a.nav("keys"), Key: keyRow(&k.KeyOverview, nil)})
}

// keyDelete serves POST /settings/keys/{hash}/delete through
// Service.DeleteKey (as DELETE /api/v1/keys/{hash}).
func (b *browser) keyDelete(w http.ResponseWriter, r *http.Request) error {
	a, _, err := b.postForm(w, r)
	if err != nil {
		return err
	}
	if err := b.svc.DeleteKey(r.Context(), a.user.ID, r.PathValue("hash")); err != nil {
		return err
	}
	seeOther(w, "/settings/keys?done=deleted")
	return nil
}

// keyNewForm serves GET /settings/keys/new.
func (b *browser) keyNewForm(w http.ResponseWriter, r *http.Request) error {
	a, err := b.signedInOrLogin(w, r)
	if a == nil {
		return err
	}
	return b.showKeyNew(w, r, a, http.StatusOK, web.KeyForm{})
}

func (b *browser) showKeyNew(w http.ResponseWriter, r *http.Request, a *account, status int, f web.KeyForm) error {
	list, _, err := b.svc.ListWorkspaces(r.Context(), a.user.ID, 0, keygate.MaxWorkspacePage)
	if err != nil {
		return err
	}
	chosen := r.PostFormValue("workspace_id")
	for _, ws := range list {
		f.Workspaces = append(f.Workspaces, web.WorkspaceOption{ID: ws.ID, Name: ws.Name, Selected: ws.ID == chosen || chosen == "" && ws.IsDefault})
	}
	f.FormToken = a.sess.CSRFToken
	return b.pages.KeyNew(w, status, web.KeyNewPage{Nav: a.nav("keys"), Form: f})
}

// keyCreate serves POST /settings/keys/new through Service.CreateKey (as
// POST /api/v1/keys) and shows the key once. A refused form comes back
// with its error.
func (b *browser) keyCreate(w http.ResponseWriter, r *http.Request) error {
	a, form, err := b.postForm(w, r)
	if err != nil {
		return err
	}
	sent := web.KeyForm{Name: form.Get("name"), Limit: form.Get("limit"), Reset: form.Get("limit_reset"), Expires: form.Get("expires")}
	p := keygate.NewKeyParams{UserID: a.user.ID, Name: sent.Name, LimitReset: sent.Reset}
	if ws := form.Get("workspace_id"); ws != "" {
		p.WorkspaceID = &ws
	}
	p.LimitUSD, err = formLimit(sent.Limit)
	if err == nil {
		p.ExpiresAt, err = formDate(sent.Expires)
	}
	var secret string
	var k *keygate.APIKey
	if err == nil {
		secret, k, err = b.svc.CreateKey(r.Context(), p)
	}
	if keygate.ErrorCode(err) == keygate.EINVALID {
		sent.Error = keygate.ErrorMessage(err)
		return b.showKeyNew(w, r, a, http.StatusBadRequest, sent)
	} else if err != nil {
		return err
	}
	return b.pages.KeyCreated(w, http.StatusOK, web.KeyCreatedPage{Nav: a.nav("keys"), Secret: secret,
		Key: web.KeyRow{Hash: k.Hash, Name: k.Name}})
}
