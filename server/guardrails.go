package server

import (
	"net/http"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apitype"
)

// Guardrails (OpenRouter /guardrails; official SDK guardrails.*). Every
// route needs a management key; another user's guardrail is 404. keygate
// enforces allowed_models, ignored_models, allowed_providers,
// ignored_providers and limit_usd with reset_interval
// (docs/guardrails.md); it stores and reports the other members.

// guardrailRoutes registers the guardrail routes.
func (s *Server) guardrailRoutes() {
	s.apiMethods("/api/v1/guardrails", map[string]apiHandler{"GET": s.listGuardrails, "POST": s.createGuardrail})
	s.apiMethods("/api/v1/guardrails/{id}", map[string]apiHandler{"GET": s.getGuardrail, "PATCH": s.updateGuardrail, "DELETE": s.deleteGuardrail})
	s.apiMethods("/api/v1/guardrails/{id}/assignments/keys", map[string]apiHandler{"GET": s.listGuardrailKeys, "POST": s.assignGuardrailKeys})
	s.apiMethods("/api/v1/guardrails/{id}/assignments/keys/remove", map[string]apiHandler{"POST": s.unassignGuardrailKeys})
	s.apiMethods("/api/v1/guardrails/assignments/keys", map[string]apiHandler{"GET": s.listAllGuardrailKeys})
}

// guardrailParams maps a request body to the service's parameters: name
// and include_byok_in_budgets may not be null; null clears the others.
func guardrailParams(b *apitype.GuardrailRequest) (keygate.GuardrailParams, error) {
	p := keygate.GuardrailParams{
		SetDescription:                b.Description.Set,
		Description:                   b.Description.Value,
		SetAllowedModels:              b.AllowedModels.Set,
		SetIgnoredModels:              b.IgnoredModels.Set,
		SetAllowedProviders:           b.AllowedProviders.Set,
		SetIgnoredProviders:           b.IgnoredProviders.Set,
		SetAllowedDataRegions:         b.AllowedDataRegions.Set,
		SetLimitUSD:                   b.LimitUSD.Set,
		LimitUSD:                      b.LimitUSD.Value,
		SetResetInterval:              b.ResetInterval.Set,
		ResetInterval:                 b.ResetInterval.Value,
		SetContentFilters:             b.ContentFilters.Set,
		SetContentFilterBuiltins:      b.ContentFilterBuiltins.Set,
		SetEnableFreeModelPublication: b.EnableFreeModelPublication.Set,
		EnableFreeModelPublication:    b.EnableFreeModelPublication.Value,
		SetEnableFreeModelTraining:    b.EnableFreeModelTraining.Set,
		EnableFreeModelTraining:       b.EnableFreeModelTraining.Value,
		SetEnablePaidModelTraining:    b.EnablePaidModelTraining.Set,
		EnablePaidModelTraining:       b.EnablePaidModelTraining.Value,
		SetEnforceZDR:                 b.EnforceZDR.Set,
		EnforceZDR:                    b.EnforceZDR.Value,
		SetEnforceZDRAnthropic:        b.EnforceZDRAnthropic.Set,
		EnforceZDRAnthropic:           b.EnforceZDRAnthropic.Value,
		SetEnforceZDRGoogle:           b.EnforceZDRGoogle.Set,
		EnforceZDRGoogle:              b.EnforceZDRGoogle.Value,
		SetEnforceZDROpenAI:           b.EnforceZDROpenAI.Set,
		EnforceZDROpenAI:              b.EnforceZDROpenAI.Value,
		SetEnforceZDROther:            b.EnforceZDROther.Set,
		EnforceZDROther:               b.EnforceZDROther.Value,
		SetEnforceZDRXAI:              b.EnforceZDRXAI.Set,
		EnforceZDRXAI:                 b.EnforceZDRXAI.Value,
	}
	for _, l := range []struct {
		o   apitype.Optional[[]string]
		dst *[]string
	}{{b.AllowedModels, &p.AllowedModels}, {b.IgnoredModels, &p.IgnoredModels}, {b.AllowedProviders, &p.AllowedProviders},
		{b.IgnoredProviders, &p.IgnoredProviders}, {b.AllowedDataRegions, &p.AllowedDataRegions}} {
		if l.o.Value != nil {
			*l.dst = *l.o.Value
		}
	}
	if v := b.ContentFilters.Value; v != nil {
		for _, f := range *v {
			p.ContentFilters = append(p.ContentFilters, keygate.ContentFilter(f))
		}
	}
	if v := b.ContentFilterBuiltins.Value; v != nil {
		for _, f := range *v {
			p.ContentFilterBuiltins = append(p.ContentFilterBuiltins, keygate.ContentFilterBuiltin(f))
		}
	}
	var err error
	if p.Name, err = notNull(b.Name, "name"); err != nil {
		return p, err
	}
	if p.IncludeBYOK, err = notNull(b.IncludeBYOKInBudgets, "include_byok_in_budgets"); err != nil {
		return p, err
	}
	return p, nil
}

// decodeGuardrail reads and maps a guardrail request body.
func decodeGuardrail(w http.ResponseWriter, r *http.Request) (*apitype.GuardrailRequest, keygate.GuardrailParams, error) {
	body, err := readJSON[apitype.GuardrailRequest](w, r)
	if err != nil {
		return nil, keygate.GuardrailParams{}, err
	}
	p, err := guardrailParams(body)
	return body, p, err
}

// createGuardrail serves POST /api/v1/guardrails (OpenRouter
// createGuardrail): 201 with the guardrail. name is required; workspace_id
// is a UUID of one of the user's workspaces, the default when absent.
func (s *Server) createGuardrail(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, p, err := decodeGuardrail(w, r)
	if err != nil {
		return err
	}
	ws, err := notNull(body.WorkspaceID, "workspace_id")
	if err != nil {
		return err
	}
	g, err := s.svc.CreateGuardrail(r.Context(), key.UserID, ws, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.GuardrailResponse{Data: guardrailBody(g)})
	return nil
}

// listGuardrails serves GET /api/v1/guardrails: query offset (>= 0),
// limit (1 to 100, default 50) and workspace_id; total_count counts them
// all.
func (s *Server) listGuardrails(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset, limit, err := pageQuery(q)
	if err != nil {
		return err
	}
	var ws *string
	if q.Has("workspace_id") {
		v := q.Get("workspace_id")
		ws = &v
	}
	list, total, err := s.svc.ListGuardrails(r.Context(), key.UserID, ws, offset, limit)
	if err != nil {
		return err
	}
	data := make([]apitype.Guardrail, len(list))
	for i, g := range list {
		data[i] = guardrailBody(g)
	}
	writeJSON(w, http.StatusOK, apitype.ListGuardrailsResponse{Data: data, TotalCount: total})
	return nil
}

// pageQuery reads offset (>= 0, default 0) and limit (1 to
// keygate.MaxGuardrailPage, default keygate.DefaultGuardrailPage).
func pageQuery(q map[string][]string) (offset, limit int, err error) {
	if offset, err = queryInt(q, "offset", 0); err != nil {
		return 0, 0, err
	}
	if limit, err = queryInt(q, "limit", keygate.DefaultGuardrailPage); err != nil {
		return 0, 0, keygate.Errorf(keygate.EINVALID, "limit must be an integer from 1 to %d", keygate.MaxGuardrailPage)
	}
	return offset, limit, nil
}

// getGuardrail serves GET /api/v1/guardrails/{id}.
func (s *Server) getGuardrail(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	g, err := s.svc.GetGuardrail(r.Context(), key.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.GuardrailResponse{Data: guardrailBody(g)})
	return nil
}

// updateGuardrail serves PATCH /api/v1/guardrails/{id}: absent members are
// left alone, null clears a nullable one. workspace_id cannot be changed.
func (s *Server) updateGuardrail(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	body, p, err := decodeGuardrail(w, r)
	if err != nil {
		return err
	}
	if body.WorkspaceID.Set {
		return keygate.Errorf(keygate.EINVALID, "workspace_id cannot be changed")
	}
	g, err := s.svc.UpdateGuardrail(r.Context(), key.UserID, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.GuardrailResponse{Data: guardrailBody(g)})
	return nil
}

// deleteGuardrail serves DELETE /api/v1/guardrails/{id}: {"deleted":true}.
func (s *Server) deleteGuardrail(w http.ResponseWriter, r *http.Request) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteGuardrail(r.Context(), key.UserID, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.DeletedResponse{Deleted: true})
	return nil
}

// assignGuardrailKeys serves POST /api/v1/guardrails/{id}/assignments/keys
// (OpenRouter bulkAssignKeysToGuardrail): {"assigned_count":N}, the keys
// newly assigned.
func (s *Server) assignGuardrailKeys(w http.ResponseWriter, r *http.Request) error {
	n, err := s.guardrailKeys(w, r, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.AssignedCountResponse{AssignedCount: n})
	return nil
}

// unassignGuardrailKeys serves POST
// /api/v1/guardrails/{id}/assignments/keys/remove:
// {"unassigned_count":N}.
func (s *Server) unassignGuardrailKeys(w http.ResponseWriter, r *http.Request) error {
	n, err := s.guardrailKeys(w, r, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.UnassignedCountResponse{UnassignedCount: n})
	return nil
}

func (s *Server) guardrailKeys(w http.ResponseWriter, r *http.Request, remove bool) (int, error) {
	key, err := s.management(r)
	if err != nil {
		return 0, err
	}
	body, err := readJSON[apitype.KeyHashesRequest](w, r)
	if err != nil {
		return 0, err
	}
	return s.svc.AssignGuardrailKeys(r.Context(), key.UserID, r.PathValue("id"), body.KeyHashes, remove)
}

// listGuardrailKeys serves GET /api/v1/guardrails/{id}/assignments/keys.
func (s *Server) listGuardrailKeys(w http.ResponseWriter, r *http.Request) error {
	return s.listAssignments(w, r, r.PathValue("id"))
}

// listAllGuardrailKeys serves GET /api/v1/guardrails/assignments/keys:
// the key assignments of all the user's guardrails.
func (s *Server) listAllGuardrailKeys(w http.ResponseWriter, r *http.Request) error {
	return s.listAssignments(w, r, "")
}

func (s *Server) listAssignments(w http.ResponseWriter, r *http.Request, id string) error {
	key, err := s.management(r)
	if err != nil {
		return err
	}
	offset, limit, err := pageQuery(r.URL.Query())
	if err != nil {
		return err
	}
	list, total, err := s.svc.GuardrailKeyAssignments(r.Context(), key.UserID, id, offset, limit)
	if err != nil {
		return err
	}
	data := make([]apitype.KeyAssignment, len(list))
	for i, a := range list {
		data[i] = apitype.KeyAssignment{ID: a.ID, GuardrailID: a.GuardrailID, KeyHash: a.KeyHash, KeyName: a.KeyName,
			KeyLabel: a.KeyLabel, AssignedBy: a.AssignedBy, CreatedAt: formatTime(a.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, apitype.ListKeyAssignmentsResponse{Data: data, TotalCount: total})
	return nil
}

// guardrailBody is the SDK's Guardrail object of g.
func guardrailBody(g *keygate.Guardrail) apitype.Guardrail {
	ws := g.WorkspaceID
	b := apitype.Guardrail{
		ID: g.ID, WorkspaceID: &ws, Name: g.Name, Description: g.Description,
		AllowedModels: g.AllowedModels, IgnoredModels: g.IgnoredModels,
		AllowedProviders: g.AllowedProviders, IgnoredProviders: g.IgnoredProviders,
		AllowedDataRegions: g.AllowedDataRegions, IncludeBYOKInBudgets: g.IncludeBYOK,
		EnableFreeModelPublication: g.EnableFreeModelPublication, EnableFreeModelTraining: g.EnableFreeModelTraining,
		EnablePaidModelTraining: g.EnablePaidModelTraining, EnforceZDR: g.EnforceZDR,
		EnforceZDRAnthropic: g.EnforceZDRAnthropic, EnforceZDRGoogle: g.EnforceZDRGoogle,
		EnforceZDROpenAI: g.EnforceZDROpenAI, EnforceZDROther: g.EnforceZDROther, EnforceZDRXAI: g.EnforceZDRXAI,
		CreatedAt: formatTime(g.CreatedAt), UpdatedAt: timePtr(g.UpdatedAt),
	}
	if g.Limit != nil {
		usd := g.Limit.USD()
		b.LimitUSD = &usd
	}
	if g.LimitReset != keygate.ResetNone {
		v := string(g.LimitReset)
		b.ResetInterval = &v
	}
	for _, f := range g.ContentFilters {
		b.ContentFilters = append(b.ContentFilters, apitype.ContentFilter(f))
	}
	for _, f := range g.ContentFilterBuiltins {
		b.ContentFilterBuiltins = append(b.ContentFilterBuiltins, apitype.ContentFilterBuiltin(f))
	}
	return b
}
