package keygate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Guardrail is a policy assigned to keys (OpenRouter Guardrail; official
// SDK guardrails.create). keygate enforces the model and provider lists
// and the spending limit (policy.go); it stores and reports the other
// members (GuardrailUnenforced, AllowedDataRegions) without acting on them.
type Guardrail struct {
	ID          string // UUID
	UserID      string // the owner: only the owner's management keys see it
	WorkspaceID string
	Name        string
	Description *string
	// The lists are nil when null (no restriction); never empty.
	AllowedModels      []string // model names as keygate serves them ("openai/gpt-4o")
	IgnoredModels      []string
	AllowedProviders   []string // upstream names of the gateway's models file
	IgnoredProviders   []string
	AllowedDataRegions []string // global, europe, us: stored and reported only
	// Limit caps what the assigned keys spend together in the window of
	// LimitReset (ResetNone: all time), in micro-dollars; nil: no limit.
	Limit       *Micros
	LimitReset  LimitReset
	IncludeBYOK bool // include_byok_in_budgets
	GuardrailUnenforced
	CreatedAt time.Time
	UpdatedAt *time.Time
}

// GuardrailUnenforced holds the members of a guardrail that keygate stores
// and reports but does not enforce: it inspects no prompt and routes to no
// provider by its data policy. docs/guardrails.md lists them.
type GuardrailUnenforced struct {
	ContentFilters             []ContentFilter        `json:"content_filters,omitempty"`
	ContentFilterBuiltins      []ContentFilterBuiltin `json:"content_filter_builtins,omitempty"`
	EnableFreeModelPublication *bool                  `json:"enable_free_model_publication,omitempty"`
	EnableFreeModelTraining    *bool                  `json:"enable_free_model_training,omitempty"`
	EnablePaidModelTraining    *bool                  `json:"enable_paid_model_training,omitempty"`
	EnforceZDR                 *bool                  `json:"enforce_zdr,omitempty"`
	EnforceZDRAnthropic        *bool                  `json:"enforce_zdr_anthropic,omitempty"`
	EnforceZDRGoogle           *bool                  `json:"enforce_zdr_google,omitempty"`
	EnforceZDROpenAI           *bool                  `json:"enforce_zdr_openai,omitempty"`
	EnforceZDROther            *bool                  `json:"enforce_zdr_other,omitempty"`
	EnforceZDRXAI              *bool                  `json:"enforce_zdr_xai,omitempty"`
}

// ContentFilter is one member of content_filters (official SDK
// ContentFilterEntry): a pattern and what to do when it matches.
type ContentFilter struct {
	Action  string  `json:"action"`
	Label   *string `json:"label,omitempty"`
	Pattern string  `json:"pattern"`
}

// ContentFilterBuiltin is one member of content_filter_builtins (official
// SDK ContentFilterBuiltinEntry).
type ContentFilterBuiltin struct {
	Action    string  `json:"action"`
	Label     *string `json:"label,omitempty"`
	ScanScope *string `json:"scan_scope,omitempty"`
	Slug      string  `json:"slug"`
}

// KeyAssignment is a guardrail assigned to a key (official SDK
// KeyAssignment).
type KeyAssignment struct {
	ID          string // UUID
	GuardrailID string
	KeyHash     string
	KeyName     string
	KeyLabel    string
	AssignedBy  *string // the user who assigned it
	CreatedAt   time.Time
}

// Guardrail limits: keygate's own, generous for what they hold.
const (
	MaxGuardrailListLen   = 1000 // members of each model or provider list
	MaxContentFilters     = 100  // members of content_filters and of content_filter_builtins
	maxFilterPatternLen   = 1000 // code points of a content filter's pattern
	maxFilterWordLen      = 100  // code points of an action, label, slug or scan scope
	MaxGuardrailKeyHashes = 1000 // key_hashes of one assignment call
	DefaultGuardrailPage  = 50
	MaxGuardrailPage      = 100
)

// DataRegions are the values of allowed_data_regions (official SDK
// GuardrailDataRegion).
var DataRegions = []string{"global", "europe", "us"}

// GuardrailStore holds guardrails and their key assignments. Every change
// that can alter what a key may do is announced (ChangeGuardrail, the
// guardrail's id) in its transaction.
type GuardrailStore interface {
	// CreateGuardrail inserts g. ErrNotFound if its user or workspace does
	// not exist.
	CreateGuardrail(ctx context.Context, g *Guardrail) error
	// Guardrail returns the guardrail with id, or ErrNotFound.
	Guardrail(ctx context.Context, id string) (*Guardrail, error)
	// ListGuardrails returns up to limit of a user's guardrails (of one
	// workspace when workspaceID is not empty), oldest first, skipping
	// offset, and their total count.
	ListGuardrails(ctx context.Context, userID, workspaceID string, offset, limit int) ([]*Guardrail, int, error)
	// UpdateGuardrail reads the guardrail with id, lets apply change it,
	// stores the result and announces it, in one transaction in which no
	// other change of the row can come between the read and the write:
	// concurrent updates of different members never undo each other, on
	// one replica or many. An error of apply is returned as it is, with
	// nothing stored. ErrNotFound if there is no such guardrail.
	UpdateGuardrail(ctx context.Context, id string, apply func(*Guardrail) error) (*Guardrail, error)
	// DeleteGuardrail deletes the guardrail with id and its assignments,
	// and announces it. ErrNotFound if there is none.
	DeleteGuardrail(ctx context.Context, id string) error
	// AssignGuardrailKeys assigns the guardrail to each key of hashes that
	// it is not assigned to yet, and returns how many it assigned. The
	// keys must exist (ErrNotFound otherwise, assigning none).
	AssignGuardrailKeys(ctx context.Context, guardrailID string, hashes []string, assignedBy string, at time.Time) (int, error)
	// UnassignGuardrailKeys removes the guardrail from each key of hashes
	// and returns how many it removed.
	UnassignGuardrailKeys(ctx context.Context, guardrailID string, hashes []string) (int, error)
	// GuardrailKeyAssignments returns up to limit of the key assignments
	// of the guardrail guardrailID, or of every guardrail of userID when
	// guardrailID is empty, oldest first, skipping offset, and their total
	// count.
	GuardrailKeyAssignments(ctx context.Context, userID, guardrailID string, offset, limit int) ([]*KeyAssignment, int, error)
	// KeyGuardrails returns the guardrails assigned to the key with hash.
	KeyGuardrails(ctx context.Context, keyHash string) ([]*Guardrail, error)
}

// Audit actions of guardrails.
const (
	AuditGuardrailCreated  = "guardrail.created"
	AuditGuardrailUpdated  = "guardrail.updated"
	AuditGuardrailDeleted  = "guardrail.deleted"
	AuditGuardrailAssigned = "guardrail.assigned"
)

var errGuardrailNotFound = &Error{Code: ENOTFOUND, Message: "Guardrail not found"}

// GuardrailParams are the members of a guardrail's create or update
// request (OpenRouter CreateGuardrailRequest, UpdateGuardrailRequest). In
// an update, a Set… flag says the member was sent (nil then clears it), and
// a nil Name or IncludeBYOK leaves it alone; in a create, absent and null
// are the same.
type GuardrailParams struct {
	Name           *string
	SetDescription bool
	Description    *string

	SetAllowedModels, SetIgnoredModels          bool
	AllowedModels, IgnoredModels                []string
	SetAllowedProviders, SetIgnoredProviders    bool
	AllowedProviders, IgnoredProviders          []string
	SetAllowedDataRegions                       bool
	AllowedDataRegions                          []string
	SetLimitUSD                                 bool
	LimitUSD                                    *float64
	SetResetInterval                            bool
	ResetInterval                               *string
	IncludeBYOK                                 *bool
	SetContentFilters, SetContentFilterBuiltins bool
	ContentFilters                              []ContentFilter
	ContentFilterBuiltins                       []ContentFilterBuiltin
	SetEnableFreeModelPublication               bool
	EnableFreeModelPublication                  *bool
	SetEnableFreeModelTraining                  bool
	EnableFreeModelTraining                     *bool
	SetEnablePaidModelTraining                  bool
	EnablePaidModelTraining                     *bool
	SetEnforceZDR, SetEnforceZDRAnthropic       bool
	EnforceZDR, EnforceZDRAnthropic             *bool
	SetEnforceZDRGoogle, SetEnforceZDROpenAI    bool
	EnforceZDRGoogle, EnforceZDROpenAI          *bool
	SetEnforceZDROther, SetEnforceZDRXAI        bool
	EnforceZDROther, EnforceZDRXAI              *bool
}

// apply checks p and writes what it sets into g. Errors: EINVALID naming
// the member.
func (p *GuardrailParams) apply(g *Guardrail) error {
	if p.Name != nil {
		if err := checkName("name", *p.Name); err != nil {
			return err
		}
		g.Name = *p.Name
	}
	if p.SetDescription {
		if err := checkDescription(p.Description); err != nil {
			return err
		}
		g.Description = p.Description
	}
	lists := []struct {
		set   bool
		field string
		v     []string
		dst   *[]string
		check func(string) bool
	}{
		{p.SetAllowedModels, "allowed_models", p.AllowedModels, &g.AllowedModels, isModelName},
		{p.SetIgnoredModels, "ignored_models", p.IgnoredModels, &g.IgnoredModels, isModelName},
		{p.SetAllowedProviders, "allowed_providers", p.AllowedProviders, &g.AllowedProviders, isModelName},
		{p.SetIgnoredProviders, "ignored_providers", p.IgnoredProviders, &g.IgnoredProviders, isModelName},
		{p.SetAllowedDataRegions, "allowed_data_regions", p.AllowedDataRegions, &g.AllowedDataRegions, func(v string) bool { return slices.Contains(DataRegions, v) }},
	}
	for _, l := range lists {
		if !l.set {
			continue
		}
		v, err := checkList(l.field, l.v, l.check)
		if err != nil {
			return err
		}
		*l.dst = v
	}
	if p.SetLimitUSD {
		g.Limit = nil
		if p.LimitUSD != nil {
			m, err := MicrosFromUSD("limit_usd", *p.LimitUSD)
			if err != nil {
				return err
			}
			g.Limit = &m
		}
	}
	if p.SetResetInterval {
		g.LimitReset = ResetNone
		if p.ResetInterval != nil {
			if *p.ResetInterval == "" {
				return Errorf(EINVALID, "reset_interval must be one of daily, weekly, monthly, or null")
			}
			r, err := ParseLimitReset("reset_interval", *p.ResetInterval)
			if err != nil {
				return Errorf(EINVALID, "reset_interval must be one of daily, weekly, monthly, or null")
			}
			g.LimitReset = r
		}
	}
	if p.IncludeBYOK != nil {
		g.IncludeBYOK = *p.IncludeBYOK
	}
	return p.applyUnenforced(&g.GuardrailUnenforced)
}

// applyUnenforced checks and writes the members keygate does not enforce.
func (p *GuardrailParams) applyUnenforced(u *GuardrailUnenforced) error {
	if p.SetContentFilters {
		if len(p.ContentFilters) > MaxContentFilters {
			return Errorf(EINVALID, "content_filters must have at most %d members", MaxContentFilters)
		}
		for i, f := range p.ContentFilters {
			if !isWord(f.Action) || (f.Label != nil && !isWord(*f.Label)) || f.Pattern == "" ||
				CheckText("pattern", f.Pattern, maxFilterPatternLen) != nil {
				return Errorf(EINVALID, "content_filters[%d] must have an action (1 to %d characters), an optional label and a pattern of 1 to %d characters", i, maxFilterWordLen, maxFilterPatternLen)
			}
		}
		u.ContentFilters = nilIfEmpty(p.ContentFilters)
	}
	if p.SetContentFilterBuiltins {
		if len(p.ContentFilterBuiltins) > MaxContentFilters {
			return Errorf(EINVALID, "content_filter_builtins must have at most %d members", MaxContentFilters)
		}
		for i, f := range p.ContentFilterBuiltins {
			if !isWord(f.Action) || !isWord(f.Slug) || (f.Label != nil && !isWord(*f.Label)) || (f.ScanScope != nil && !isWord(*f.ScanScope)) {
				return Errorf(EINVALID, "content_filter_builtins[%d] must have an action and a slug (1 to %d characters each), and an optional label and scan_scope", i, maxFilterWordLen)
			}
		}
		u.ContentFilterBuiltins = nilIfEmpty(p.ContentFilterBuiltins)
	}
	flags := []struct {
		set bool
		v   *bool
		dst **bool
	}{
		{p.SetEnableFreeModelPublication, p.EnableFreeModelPublication, &u.EnableFreeModelPublication},
		{p.SetEnableFreeModelTraining, p.EnableFreeModelTraining, &u.EnableFreeModelTraining},
		{p.SetEnablePaidModelTraining, p.EnablePaidModelTraining, &u.EnablePaidModelTraining},
		{p.SetEnforceZDR, p.EnforceZDR, &u.EnforceZDR},
		{p.SetEnforceZDRAnthropic, p.EnforceZDRAnthropic, &u.EnforceZDRAnthropic},
		{p.SetEnforceZDRGoogle, p.EnforceZDRGoogle, &u.EnforceZDRGoogle},
		{p.SetEnforceZDROpenAI, p.EnforceZDROpenAI, &u.EnforceZDROpenAI},
		{p.SetEnforceZDROther, p.EnforceZDROther, &u.EnforceZDROther},
		{p.SetEnforceZDRXAI, p.EnforceZDRXAI, &u.EnforceZDRXAI},
	}
	for _, f := range flags {
		if f.set {
			*f.dst = f.v
		}
	}
	return nil
}

func nilIfEmpty[T any](v []T) []T {
	if len(v) == 0 {
		return nil
	}
	return v
}

// isModelName reports whether v is a model or provider name: 1 to
// MaxModelIDLen code points without spaces or control characters.
func isModelName(v string) bool {
	return v != "" && CheckText("", v, MaxModelIDLen) == nil && strings.IndexFunc(v, unicode.IsSpace) < 0
}

// isWord reports whether v is 1 to maxFilterWordLen code points without
// control characters.
func isWord(v string) bool { return v != "" && CheckText("", v, maxFilterWordLen) == nil }

// checkList checks a list member: at most MaxGuardrailListLen members,
// each passing ok, kept once each in the order given; an empty list is
// nil (no restriction, as null).
func checkList(field string, v []string, ok func(string) bool) ([]string, error) {
	if len(v) > MaxGuardrailListLen {
		return nil, Errorf(EINVALID, "%s must have at most %d members", field, MaxGuardrailListLen)
	}
	var out []string
	for i, m := range v {
		if !ok(m) {
			if field == "allowed_data_regions" {
				return nil, Errorf(EINVALID, "allowed_data_regions[%d] must be one of %s", i, strings.Join(DataRegions, ", "))
			}
			return nil, Errorf(EINVALID, "%s[%d] must be 1 to %d characters without spaces or control characters", field, i, MaxModelIDLen)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// CreateGuardrail creates a guardrail of the user in workspaceID (a UUID of
// one of the user's workspaces; nil for the default). name is required.
// OpenRouter POST /guardrails. Errors: EINVALID naming the member.
func (s *Service) CreateGuardrail(ctx context.Context, userID string, workspaceID *string, p GuardrailParams) (*Guardrail, error) {
	if p.Name == nil {
		return nil, Errorf(EINVALID, "name is required")
	}
	ws, err := s.resolveWorkspace(ctx, userID, workspaceID, "workspace_id")
	if err != nil {
		return nil, err
	}
	g := &Guardrail{ID: uuid.NewString(), UserID: userID, WorkspaceID: ws.ID, CreatedAt: s.Now()}
	if err := p.apply(g); err != nil {
		return nil, err
	}
	if err := s.store.CreateGuardrail(ctx, g); err != nil {
		return nil, fmt.Errorf("create guardrail: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditGuardrailCreated, ActorUserID: userID, Detail: "guardrail " + g.ID})
	return g, nil
}

// GetGuardrail returns the user's guardrail with id. Errors: ENOTFOUND
// when the user has none such.
func (s *Service) GetGuardrail(ctx context.Context, userID, id string) (*Guardrail, error) {
	if !isUUID(id) {
		return nil, errGuardrailNotFound
	}
	g, err := s.store.Guardrail(ctx, strings.ToLower(id))
	if errors.Is(err, ErrNotFound) || (err == nil && g.UserID != userID) {
		return nil, errGuardrailNotFound
	} else if err != nil {
		return nil, fmt.Errorf("guardrail: %w", err)
	}
	return g, nil
}

// ListGuardrails returns a page of the user's guardrails, oldest first,
// of one workspace when workspaceID is not nil, and their total count.
// Errors: EINVALID for an offset < 0, a limit outside 1 to
// MaxGuardrailPage, or a workspace_id that is not one of the user's.
func (s *Service) ListGuardrails(ctx context.Context, userID string, workspaceID *string, offset, limit int) ([]*Guardrail, int, error) {
	if offset < 0 {
		return nil, 0, Errorf(EINVALID, "offset must be a non-negative integer")
	}
	if limit < 1 || limit > MaxGuardrailPage {
		return nil, 0, Errorf(EINVALID, "limit must be an integer from 1 to %d", MaxGuardrailPage)
	}
	wsID := ""
	if workspaceID != nil {
		ws, err := s.resolveWorkspace(ctx, userID, workspaceID, "workspace_id")
		if err != nil {
			return nil, 0, err
		}
		wsID = ws.ID
	}
	list, total, err := s.store.ListGuardrails(ctx, userID, wsID, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list guardrails: %w", err)
	}
	return list, total, nil
}

// UpdateGuardrail applies p to the user's guardrail id (OpenRouter PATCH
// /guardrails/{id}). The change reaches every process's policies through
// the change feed. Errors: EINVALID naming the member; ENOTFOUND.
func (s *Service) UpdateGuardrail(ctx context.Context, userID, id string, p GuardrailParams) (*Guardrail, error) {
	g, err := s.GetGuardrail(ctx, userID, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	g, err = s.store.UpdateGuardrail(ctx, g.ID, func(g *Guardrail) error {
		if g.UserID != userID {
			return errGuardrailNotFound
		}
		if err := p.apply(g); err != nil {
			return err
		}
		g.UpdatedAt = &now
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errGuardrailNotFound
		}
		if _, ok := errors.AsType[*Error](err); ok {
			return nil, err // apply's: a member refused
		}
		return nil, fmt.Errorf("update guardrail: %w", err)
	}
	s.guardrailChanged(g.ID)
	s.audit(ctx, AuditEvent{Action: AuditGuardrailUpdated, ActorUserID: userID, Detail: "guardrail " + g.ID})
	return g, nil
}

// DeleteGuardrail deletes the user's guardrail id and its assignments.
// Errors: ENOTFOUND.
func (s *Service) DeleteGuardrail(ctx context.Context, userID, id string) error {
	g, err := s.GetGuardrail(ctx, userID, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteGuardrail(ctx, g.ID); errors.Is(err, ErrNotFound) {
		return errGuardrailNotFound
	} else if err != nil {
		return fmt.Errorf("delete guardrail: %w", err)
	}
	s.guardrailChanged(g.ID)
	s.audit(ctx, AuditEvent{Action: AuditGuardrailDeleted, ActorUserID: userID, Detail: "guardrail " + g.ID})
	return nil
}

// AssignGuardrailKeys assigns the user's guardrail id to the user's keys
// with hashes (1 to MaxGuardrailKeyHashes) and returns how many were newly
// assigned (OpenRouter POST /guardrails/{id}/assignments/keys); remove
// makes it unassign them instead and return how many were removed
// (…/assignments/keys/remove). Errors: EINVALID naming key_hashes or the
// member that is not one of the user's keys; ENOTFOUND for the guardrail.
func (s *Service) AssignGuardrailKeys(ctx context.Context, userID, id string, hashes []string, remove bool) (int, error) {
	g, err := s.GetGuardrail(ctx, userID, id)
	if err != nil {
		return 0, err
	}
	if len(hashes) == 0 || len(hashes) > MaxGuardrailKeyHashes {
		return 0, Errorf(EINVALID, "key_hashes must have 1 to %d members", MaxGuardrailKeyHashes)
	}
	var clean []string
	for i, h := range hashes {
		if !isKeyHash(h) {
			return 0, Errorf(EINVALID, "key_hashes[%d] is not one of your keys", i)
		}
		k, err := s.store.Key(ctx, h)
		if errors.Is(err, ErrNotFound) || (err == nil && k.UserID != userID) {
			return 0, Errorf(EINVALID, "key_hashes[%d] is not one of your keys", i)
		} else if err != nil {
			return 0, fmt.Errorf("key: %w", err)
		}
		if !slices.Contains(clean, k.Hash) {
			clean = append(clean, k.Hash)
		}
	}
	var n int
	if remove {
		n, err = s.store.UnassignGuardrailKeys(ctx, g.ID, clean)
	} else {
		n, err = s.store.AssignGuardrailKeys(ctx, g.ID, clean, userID, s.Now())
	}
	if err != nil {
		return 0, fmt.Errorf("assign guardrail keys: %w", err)
	}
	s.guardrailChanged(g.ID)
	verb := "assigned"
	if remove {
		verb = "unassigned"
	}
	s.audit(ctx, AuditEvent{Action: AuditGuardrailAssigned, ActorUserID: userID, Detail: fmt.Sprintf("guardrail %s %s %d keys", g.ID, verb, n)})
	return n, nil
}

// GuardrailKeyAssignments returns a page of the key assignments of the
// user's guardrail id, or of all the user's guardrails when id is "", and
// their total count. Errors: EINVALID for the offset or limit (as
// ListGuardrails); ENOTFOUND for the guardrail.
func (s *Service) GuardrailKeyAssignments(ctx context.Context, userID, id string, offset, limit int) ([]*KeyAssignment, int, error) {
	if offset < 0 {
		return nil, 0, Errorf(EINVALID, "offset must be a non-negative integer")
	}
	if limit < 1 || limit > MaxGuardrailPage {
		return nil, 0, Errorf(EINVALID, "limit must be an integer from 1 to %d", MaxGuardrailPage)
	}
	if id != "" {
		g, err := s.GetGuardrail(ctx, userID, id)
		if err != nil {
			return nil, 0, err
		}
		id = g.ID
	}
	list, total, err := s.store.GuardrailKeyAssignments(ctx, userID, id, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("guardrail key assignments: %w", err)
	}
	return list, total, nil
}
