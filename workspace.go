package keygate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"
)

// Workspace limits (OpenRouter CreateWorkspaceRequest; names follow
// MaxLabelLen).
const (
	MaxWorkspaceSlugLen  = 50  // bytes, all ASCII
	MaxWorkspaceDescLen  = 500 // code points
	DefaultWorkspacePage = 50  // GET /workspaces limit when none is given
	MaxWorkspacePage     = 100 // largest GET /workspaces limit
	fallbackSlug         = "workspace"
)

// Workspace settings limits. The sampling rate's range is OpenRouter's
// ("Sampling rate for I/O logging (0.0001-1)"); the other bounds are
// keygate's own, generous for what they hold, so that a workspace object
// stays small.
const (
	// DefaultIOLoggingSamplingRate is the io_logging_sampling_rate of a
	// workspace that never set one (OpenRouter Workspace: "1 means 100% of
	// requests are logged").
	DefaultIOLoggingSamplingRate = 1.0
	MinIOLoggingSamplingRate     = 0.0001
	MaxModelIDLen                = 200  // code points of default_text_model and default_image_model
	MaxIOLoggingAPIKeyIDs        = 1000 // members of io_logging_api_key_ids
	MaxDisabledServerTools       = 64   // members of disabled_server_tools
	maxServerToolLen             = 100  // bytes of one disabled_server_tools member
	maxSafeInteger               = 1<<53 - 1
)

// ProviderSorts are the values of default_provider_sort (OpenRouter:
// "Default provider sort preference (price, throughput, latency, exacto)").
var ProviderSorts = []string{"price", "throughput", "latency", "exacto"}

// serverToolPattern is the form of the official SDK's server tool names
// (CreateWorkspaceRequestDisabledServerTool: "openrouter:web_search",
// "openrouter:apply_patch", …). The SDK's list is open, so any name of this
// form is taken.
var serverToolPattern = regexp.MustCompile(`^openrouter:[a-z0-9]+(?:_+[a-z0-9]+)*$`)

// Audit actions of the workspace API.
const (
	AuditWorkspaceCreated = "workspace.created"
	AuditWorkspaceUpdated = "workspace.updated"
	AuditWorkspaceDeleted = "workspace.deleted"
)

// slugPattern is OpenRouter's slug rule: lower-case alphanumeric segments
// separated by single hyphens, no leading or trailing hyphen.
var slugPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

var errWorkspaceNotFound = &Error{Code: ENOTFOUND, Message: "Workspace not found"}

// CheckSlug enforces OpenRouter's slug pattern and length. A slug that has
// the form of a UUID is refused too, so that a path segment naming a
// workspace is never ambiguous between an id and a slug.
func CheckSlug(field, v string) error {
	if v == "" || len(v) > MaxWorkspaceSlugLen || !slugPattern.MatchString(v) {
		return Errorf(EINVALID, "%s must be 1 to %d characters of lower-case letters and digits in segments joined by single hyphens", field, MaxWorkspaceSlugLen)
	}
	if isUUID(v) {
		return Errorf(EINVALID, "%s must not have the form of a UUID", field)
	}
	return nil
}

// SlugFrom derives a slug from a workspace name: lower-cased, every run of
// characters other than a-z and 0-9 turned into one hyphen, hyphens trimmed
// from the ends, cut to MaxWorkspaceSlugLen. A name with nothing to keep
// gives "workspace".
func SlugFrom(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(name) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
			continue
		}
		hyphen = true
	}
	s := b.String()
	if len(s) > MaxWorkspaceSlugLen {
		s = strings.TrimRight(s[:MaxWorkspaceSlugLen], "-")
	}
	if s == "" || isUUID(s) {
		return fallbackSlug
	}
	return s
}

func isUUID(v string) bool {
	_, err := uuid.Parse(v)
	return err == nil && len(v) == 36
}

// guardrailNamespace scopes the default guardrail ids derived below.
var guardrailNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:keygate:default-guardrail"))

// DefaultGuardrailID is the workspace's default_guardrail_id: OpenRouter
// documents it as "deterministic ID derived from the workspace ID", so it
// is the name-based (SHA-1, RFC 9562 §5.5) UUID of the workspace id.
func DefaultGuardrailID(workspaceID string) string {
	return uuid.NewSHA1(guardrailNamespace, []byte(workspaceID)).String()
}

// NewWorkspaceParams describes a workspace to create (OpenRouter POST
// /workspaces).
type NewWorkspaceParams struct {
	UserID      string
	Name        string  // 1 to 100 code points
	Slug        *string // nil to derive it from Name
	Description *string // at most 500 code points
	// Settings are applied to the defaults (the zero WorkspaceSettings with
	// DefaultIOLoggingSamplingRate).
	Settings WorkspaceSettingsUpdate
}

// CreateWorkspace creates a workspace for a user. Errors: EINVALID naming
// name, slug, description or the setting that is out of its range (see
// WorkspaceSettingsUpdate); ECONFLICT when the user already has the slug.
func (s *Service) CreateWorkspace(ctx context.Context, p NewWorkspaceParams) (*Workspace, error) {
	if err := checkWorkspaceName(p.Name); err != nil {
		return nil, err
	}
	slug := SlugFrom(p.Name)
	if p.Slug != nil {
		if err := CheckSlug("slug", *p.Slug); err != nil {
			return nil, err
		}
		slug = *p.Slug
	}
	if err := checkDescription(p.Description); err != nil {
		return nil, err
	}
	w := &Workspace{
		ID:                uuid.NewString(),
		UserID:            p.UserID,
		Name:              strings.TrimSpace(p.Name),
		Slug:              slug,
		Description:       p.Description,
		CreatedAt:         s.Now(),
		WorkspaceSettings: WorkspaceSettings{IOLoggingSamplingRate: DefaultIOLoggingSamplingRate},
	}
	if err := p.Settings.apply(&w.WorkspaceSettings); err != nil {
		return nil, err
	}
	switch err := s.store.CreateWorkspace(ctx, w); {
	case errors.Is(err, ErrConflict):
		return nil, slugTaken(slug)
	case err != nil:
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditWorkspaceCreated, ActorUserID: p.UserID, Detail: "workspace " + w.ID})
	return w, nil
}

// ListWorkspaces returns up to limit of a user's workspaces, oldest first,
// after skipping offset, and how many the user has. Errors: EINVALID
// "offset …" when offset < 0, "limit …" unless 1 <= limit <=
// MaxWorkspacePage.
func (s *Service) ListWorkspaces(ctx context.Context, userID string, offset, limit int) ([]*Workspace, int, error) {
	if offset < 0 {
		return nil, 0, Errorf(EINVALID, "offset must be a non-negative integer")
	}
	if limit < 1 || limit > MaxWorkspacePage {
		return nil, 0, Errorf(EINVALID, "limit must be an integer from 1 to %d", MaxWorkspacePage)
	}
	list, total, err := s.store.ListWorkspaces(ctx, userID, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list workspaces: %w", err)
	}
	return list, total, nil
}

// GetWorkspace returns the user's workspace named by ref, its id (a UUID)
// or its slug (OpenRouter: "The workspace ID (UUID) or slug"). Errors:
// ENOTFOUND when the user has none such.
func (s *Service) GetWorkspace(ctx context.Context, userID, ref string) (*Workspace, error) {
	if isUUID(ref) {
		w, err := s.store.Workspace(ctx, strings.ToLower(ref))
		if errors.Is(err, ErrNotFound) || (err == nil && w.UserID != userID) {
			return nil, errWorkspaceNotFound
		} else if err != nil {
			return nil, fmt.Errorf("workspace: %w", err)
		}
		return w, nil
	}
	if CheckSlug("slug", ref) != nil {
		return nil, errWorkspaceNotFound
	}
	w, err := s.store.WorkspaceBySlug(ctx, userID, ref)
	if errors.Is(err, ErrNotFound) {
		return nil, errWorkspaceNotFound
	} else if err != nil {
		return nil, fmt.Errorf("workspace by slug: %w", err)
	}
	return w, nil
}

// WorkspaceUpdate is a change to a workspace (OpenRouter PATCH
// /workspaces/{id}); a nil pointer leaves its field alone.
type WorkspaceUpdate struct {
	Name *string
	Slug *string
	// SetDescription says the request carried description; Description nil
	// then removes it.
	SetDescription bool
	Description    *string
	WorkspaceSettingsUpdate
}

// WorkspaceSettingsUpdate is a change to WorkspaceSettings, in a PATCH or
// over the defaults of a new workspace. A nil pointer leaves its setting
// alone. The settings that OpenRouter lets be null have a Set… flag that
// says the request carried the member; a nil value then clears the
// setting.
//
// Rules (EINVALID naming the member otherwise): a default model is 1 to
// MaxModelIDLen code points without spaces or control characters;
// default_provider_sort is one of ProviderSorts; io_logging_sampling_rate
// is MinIOLoggingSamplingRate to 1; io_logging_api_key_ids holds at most
// MaxIOLoggingAPIKeyIDs integers from 1 to 2⁵³−1 (what a JSON client reads
// exactly); disabled_server_tools holds at most MaxDisabledServerTools
// names of the form "openrouter:web_search", kept once each in the order
// given, and an empty list clears it (SDK: "An empty array or null clears
// the list").
type WorkspaceSettingsUpdate struct {
	SetDefaultTextModel    bool
	DefaultTextModel       *string
	SetDefaultImageModel   bool
	DefaultImageModel      *string
	SetDefaultProviderSort bool
	DefaultProviderSort    *string
	SetIOLoggingAPIKeyIDs  bool
	IOLoggingAPIKeyIDs     []int64
	SetDisabledServerTools bool
	DisabledServerTools    []string

	IOLoggingSamplingRate           *float64
	IsDataDiscountLoggingEnabled    *bool
	IsObservabilityBroadcastEnabled *bool
	IsObservabilityIOLoggingEnabled *bool
}

// Empty reports whether u changes no setting.
func (u WorkspaceSettingsUpdate) Empty() bool {
	return !u.SetDefaultTextModel && !u.SetDefaultImageModel && !u.SetDefaultProviderSort &&
		!u.SetIOLoggingAPIKeyIDs && !u.SetDisabledServerTools && u.IOLoggingSamplingRate == nil &&
		u.IsDataDiscountLoggingEnabled == nil && u.IsObservabilityBroadcastEnabled == nil &&
		u.IsObservabilityIOLoggingEnabled == nil
}

// apply checks every setting that u carries and, when all pass, writes
// them into ws; on an error ws is left as it was.
func (u WorkspaceSettingsUpdate) apply(ws *WorkspaceSettings) error {
	p, err := u.patch()
	if err != nil {
		return err
	}
	p.applySettings(ws)
	return nil
}

// patch checks every setting that u carries and returns them, as they are
// to be stored, in a patch that sets nothing else. Errors: EINVALID naming
// the member (see WorkspaceSettingsUpdate).
func (u WorkspaceSettingsUpdate) patch() (WorkspacePatch, error) {
	var p WorkspacePatch
	if u.SetDefaultTextModel {
		if err := checkModelID("default_text_model", u.DefaultTextModel); err != nil {
			return p, err
		}
		p.SetDefaultTextModel, p.DefaultTextModel = true, u.DefaultTextModel
	}
	if u.SetDefaultImageModel {
		if err := checkModelID("default_image_model", u.DefaultImageModel); err != nil {
			return p, err
		}
		p.SetDefaultImageModel, p.DefaultImageModel = true, u.DefaultImageModel
	}
	if u.SetDefaultProviderSort {
		if v := u.DefaultProviderSort; v != nil && !slices.Contains(ProviderSorts, *v) {
			return p, Errorf(EINVALID, "default_provider_sort must be one of %s, or null", strings.Join(ProviderSorts, ", "))
		}
		p.SetDefaultProviderSort, p.DefaultProviderSort = true, u.DefaultProviderSort
	}
	if u.SetIOLoggingAPIKeyIDs {
		if err := checkKeyIDs(u.IOLoggingAPIKeyIDs); err != nil {
			return p, err
		}
		p.SetIOLoggingAPIKeyIDs, p.IOLoggingAPIKeyIDs = true, slices.Clone(u.IOLoggingAPIKeyIDs)
	}
	if u.SetDisabledServerTools {
		tools, err := serverTools(u.DisabledServerTools)
		if err != nil {
			return p, err
		}
		p.SetDisabledServerTools, p.DisabledServerTools = true, tools
	}
	if v := u.IOLoggingSamplingRate; v != nil {
		// Written so that NaN fails too.
		if !(*v >= MinIOLoggingSamplingRate && *v <= 1) {
			return p, Errorf(EINVALID, "io_logging_sampling_rate must be a number from %g to 1", MinIOLoggingSamplingRate)
		}
		p.IOLoggingSamplingRate = v
	}
	p.IsDataDiscountLoggingEnabled = u.IsDataDiscountLoggingEnabled
	p.IsObservabilityBroadcastEnabled = u.IsObservabilityBroadcastEnabled
	p.IsObservabilityIOLoggingEnabled = u.IsObservabilityIOLoggingEnabled
	return p, nil
}

// applySettings writes the settings that p sets into ws.
func (p *WorkspacePatch) applySettings(ws *WorkspaceSettings) {
	if p.SetDefaultTextModel {
		ws.DefaultTextModel = p.DefaultTextModel
	}
	if p.SetDefaultImageModel {
		ws.DefaultImageModel = p.DefaultImageModel
	}
	if p.SetDefaultProviderSort {
		ws.DefaultProviderSort = p.DefaultProviderSort
	}
	if p.SetIOLoggingAPIKeyIDs {
		ws.IOLoggingAPIKeyIDs = p.IOLoggingAPIKeyIDs
	}
	if p.SetDisabledServerTools {
		ws.DisabledServerTools = p.DisabledServerTools
	}
	if v := p.IOLoggingSamplingRate; v != nil {
		ws.IOLoggingSamplingRate = *v
	}
	if v := p.IsDataDiscountLoggingEnabled; v != nil {
		ws.IsDataDiscountLoggingEnabled = *v
	}
	if v := p.IsObservabilityBroadcastEnabled; v != nil {
		ws.IsObservabilityBroadcastEnabled = *v
	}
	if v := p.IsObservabilityIOLoggingEnabled; v != nil {
		ws.IsObservabilityIOLoggingEnabled = *v
	}
}

// checkModelID accepts null or a model id: OpenRouter's are ASCII slugs
// like "openai/gpt-4o" or "meta-llama/llama-3-8b:free", so text that
// breaks the text rule (CheckText) or holds a space is refused without
// guessing at the catalogue.
func checkModelID(field string, v *string) error {
	if v == nil {
		return nil
	}
	bad := *v == "" || CheckText(field, *v, MaxModelIDLen) != nil || strings.IndexFunc(*v, unicode.IsSpace) >= 0
	if bad {
		return Errorf(EINVALID, "%s must be a model id of 1 to %d characters without spaces or control characters, or null", field, MaxModelIDLen)
	}
	return nil
}

func checkKeyIDs(ids []int64) error {
	if len(ids) > MaxIOLoggingAPIKeyIDs {
		return Errorf(EINVALID, "io_logging_api_key_ids must have at most %d members", MaxIOLoggingAPIKeyIDs)
	}
	for i, id := range ids {
		if id < 1 || id > maxSafeInteger {
			return Errorf(EINVALID, "io_logging_api_key_ids[%d] must be an integer from 1 to %d", i, int64(maxSafeInteger))
		}
	}
	return nil
}

// serverTools checks a disabled_server_tools list and returns it with
// repeats dropped; an empty list is nil.
func serverTools(names []string) ([]string, error) {
	if len(names) > MaxDisabledServerTools {
		return nil, Errorf(EINVALID, "disabled_server_tools must have at most %d members", MaxDisabledServerTools)
	}
	var out []string
	for i, n := range names {
		if len(n) > maxServerToolLen || !serverToolPattern.MatchString(n) {
			return nil, Errorf(EINVALID, "disabled_server_tools[%d] must be a server tool name such as openrouter:web_search", i)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// UpdateWorkspace applies u to the user's workspace named by ref (id or
// slug) and returns the workspace as it is after. Only the fields u
// carries are written, in one atomic store update, so a concurrent PATCH
// of other fields is never undone by this one. A PATCH that changes
// nothing leaves the workspace, updated_at included, as it was. Errors:
// ENOTFOUND as for GetWorkspace; EINVALID naming name, slug, description
// or a setting (see WorkspaceSettingsUpdate); ECONFLICT when another
// workspace of the user has the slug.
func (s *Service) UpdateWorkspace(ctx context.Context, userID, ref string, u WorkspaceUpdate) (*Workspace, error) {
	w, err := s.GetWorkspace(ctx, userID, ref)
	if err != nil {
		return nil, err
	}
	p, err := u.patch()
	if err != nil {
		return nil, err
	}
	if p.Empty() {
		return w, nil
	}
	p.UpdatedAt = s.Now()
	after, err := s.store.UpdateWorkspace(ctx, w.ID, p)
	switch {
	case errors.Is(err, ErrConflict) && p.Slug != nil:
		return nil, slugTaken(*p.Slug)
	case errors.Is(err, ErrNotFound):
		return nil, errWorkspaceNotFound
	case err != nil:
		return nil, fmt.Errorf("update workspace: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: AuditWorkspaceUpdated, ActorUserID: userID, Detail: "workspace " + w.ID})
	return after, nil
}

// patch checks u and converts it to the store's terms: the name trimmed,
// the settings as WorkspaceSettingsUpdate.patch gives them. Errors:
// EINVALID naming name, slug, description or a setting, checked in that
// order.
func (u WorkspaceUpdate) patch() (WorkspacePatch, error) {
	var name *string
	if u.Name != nil {
		if err := checkWorkspaceName(*u.Name); err != nil {
			return WorkspacePatch{}, err
		}
		n := strings.TrimSpace(*u.Name)
		name = &n
	}
	if u.Slug != nil {
		if err := CheckSlug("slug", *u.Slug); err != nil {
			return WorkspacePatch{}, err
		}
	}
	if u.SetDescription {
		if err := checkDescription(u.Description); err != nil {
			return WorkspacePatch{}, err
		}
	}
	p, err := u.WorkspaceSettingsUpdate.patch()
	if err != nil {
		return WorkspacePatch{}, err
	}
	p.Name, p.Slug = name, u.Slug
	p.SetDescription, p.Description = u.SetDescription, u.Description
	return p, nil
}

// DeleteWorkspace deletes the user's workspace named by ref (id or slug),
// its pending authorization codes and its disabled keys. Errors: ENOTFOUND
// as for GetWorkspace; EFORBIDDEN for the default workspace (OpenRouter
// answers 403 while deleting it "is not yet generally available", and
// keygate keys always need one); ECONFLICT while it holds an enabled key
// (OpenRouter: "Workspaces with active API keys cannot be deleted; remove
// the keys first"). A disabled key is not active, and GET /keys leaves it
// out unless asked, so it does not keep the workspace alive: it goes with
// it. The store checks and deletes in one transaction.
func (s *Service) DeleteWorkspace(ctx context.Context, userID, ref string) error {
	w, err := s.GetWorkspace(ctx, userID, ref)
	if err != nil {
		return err
	}
	if w.IsDefault {
		return Errorf(EFORBIDDEN, "the default workspace cannot be deleted")
	}
	deleted, err := s.store.DeleteWorkspace(ctx, w.ID)
	switch {
	case errors.Is(err, ErrConflict):
		return Errorf(ECONFLICT, "workspace still holds active API keys; disable or delete them first")
	case errors.Is(err, ErrNotFound):
		return errWorkspaceNotFound
	case err != nil:
		return fmt.Errorf("delete workspace: %w", err)
	}
	for _, h := range deleted {
		s.keys.delete(h)
		s.audit(ctx, AuditEvent{Action: AuditKeyDeleted, ActorUserID: userID, KeyHashPrefix: hashPrefix(h), Detail: "with workspace " + w.ID})
	}
	s.audit(ctx, AuditEvent{Action: AuditWorkspaceDeleted, ActorUserID: userID, Detail: "workspace " + w.ID})
	return nil
}

// checkWorkspaceName applies OpenRouter's name rule (1 to 100 code
// points), the same as for key names.
func checkWorkspaceName(v string) error { return checkName("name", v) }

// checkDescription applies the text rule to a description: multi-line, at
// most MaxWorkspaceDescLen code points.
func checkDescription(d *string) error {
	if d == nil {
		return nil
	}
	return checkText("description", *d, MaxWorkspaceDescLen, true)
}

func slugTaken(slug string) *Error {
	return Errorf(ECONFLICT, "slug %q is already used by another of your workspaces", slug)
}
