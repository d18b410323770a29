package keygate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// WorkspaceBudget caps what every key of a workspace spends together in
// one window (OpenRouter WorkspaceBudget; official SDK
// workspaces.setBudget). A workspace has at most one budget per Interval.
type WorkspaceBudget struct {
	ID          string // UUID
	WorkspaceID string
	// Interval is the window: ResetDaily (UTC day), ResetWeekly (ISO
	// week), ResetMonthly (UTC month), or ResetNone for a lifetime budget
	// (reset_interval null).
	Interval LimitReset
	Limit    Micros // limit_usd, in micro-dollars
	// IncludeBYOK says spending with the user's own provider keys counts
	// (include_byok_in_budgets). It is a setting of the workspace: every
	// budget of one workspace holds the same value.
	IncludeBYOK bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// BudgetIntervalLifetime is the path segment of a lifetime budget
// (official SDK WorkspaceBudgetInterval: "Use \"lifetime\" for a one-time
// budget that never resets").
const BudgetIntervalLifetime = "lifetime"

// ParseBudgetInterval parses the {interval} of /workspaces/{workspace_ref}/
// budgets/{interval}: daily, weekly, monthly or lifetime, spelled exactly.
// Errors: EINVALID naming interval.
func ParseBudgetInterval(s string) (LimitReset, error) {
	switch s {
	case string(ResetDaily), string(ResetWeekly), string(ResetMonthly):
		return LimitReset(s), nil
	case BudgetIntervalLifetime:
		return ResetNone, nil
	}
	return "", Errorf(EINVALID, "interval must be one of daily, weekly, monthly, lifetime")
}

// budgetPrefix starts the counter names of workspaces (BudgetCounterHash).
const budgetPrefix = "workspace:"

// BudgetCounterHash is the name, in the usage counters and budget leases,
// of what a workspace spends in the window of interval:
// "workspace:<id>:<daily|weekly|monthly|lifetime>". Every charge adds to
// the four counters of its key's workspace (each in its own window), so a
// budget set in the middle of a month counts the month's spending from its
// first day. Key hashes are hex and never contain ':'.
func BudgetCounterHash(workspaceID string, interval LimitReset) string {
	name := string(interval)
	if interval == ResetNone {
		name = BudgetIntervalLifetime
	}
	return budgetPrefix + workspaceID + ":" + name
}

// ParseBudgetCounterHash returns the workspace and interval of a name made
// by BudgetCounterHash; ok is false for anything else (a key's hash).
func ParseBudgetCounterHash(hash string) (workspaceID string, interval LimitReset, ok bool) {
	rest, ok := strings.CutPrefix(hash, budgetPrefix)
	if !ok {
		return "", "", false
	}
	ws, name, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", false
	}
	interval, err := ParseBudgetInterval(name)
	return ws, interval, err == nil
}

// workspaceCounters returns the counters a charge of cost adds to in the
// workspace wsID: one per budget window, each in that window's period.
func workspaceCounters(wsID string, p Periods, cost Micros, byok bool) [4]UsageCounter {
	cs := [4]UsageCounter{
		{KeyHash: BudgetCounterHash(wsID, ResetNone), Period: PeriodTotal, Start: epoch},
		{KeyHash: BudgetCounterHash(wsID, ResetDaily), Period: PeriodDay, Start: p.Day},
		{KeyHash: BudgetCounterHash(wsID, ResetWeekly), Period: PeriodWeek, Start: p.Week},
		{KeyHash: BudgetCounterHash(wsID, ResetMonthly), Period: PeriodMonth, Start: p.Month},
	}
	for i := range cs {
		if byok {
			cs[i].BYOKMicros = cost
		} else {
			cs[i].Micros = cost
		}
	}
	return cs
}

// budgetKey is the stand-in that admission checks a budget as: a key
// whose hash is the budget's counter name, with the budget's limit and
// window. Reserve holds on it like on a key of the chain; the lease store
// recognizes its hash (ParseBudgetCounterHash) and locks the budget's row.
func budgetKey(b *WorkspaceBudget) *APIKey {
	limit := b.Limit
	return &APIKey{Hash: BudgetCounterHash(b.WorkspaceID, b.Interval), WorkspaceID: b.WorkspaceID,
		Limit: &limit, LimitReset: b.Interval, IncludeBYOK: b.IncludeBYOK}
}

// refusal is the 403 of a request that c's limit refuses: a key's
// "Key limit exceeded (<window> limit)", or, for a workspace budget,
// "Workspace budget exceeded (<window> budget of workspace <id>)".
func refusal(c *APIKey) *Error {
	if id, ok := ParseGuardrailCounterHash(c.Hash); ok {
		return &Error{Code: EFORBIDDEN, Message: fmt.Sprintf(msgGuardrailExceeded+" (%s limit of guardrail %s)", limitWindows[limitExceeded(c.LimitReset)], id)}
	}
	ws, interval, ok := ParseBudgetCounterHash(c.Hash)
	if !ok {
		return limitExceeded(c.LimitReset)
	}
	name := string(interval)
	if interval == ResetNone {
		name = BudgetIntervalLifetime
	}
	return &Error{Code: EFORBIDDEN, Message: fmt.Sprintf(msgBudgetExceeded+" (%s budget of workspace %s)", name, ws)}
}

// The starts of the messages of refusals by a policy (observeRefusal).
const (
	msgBudgetExceeded    = "Workspace budget exceeded"
	msgGuardrailExceeded = "Guardrail limit exceeded"
	msgModelRefused      = "Model "
	msgProviderRefused   = "Provider "
)

// BudgetStore holds workspace budgets.
type BudgetStore interface {
	// PutWorkspaceBudget stores b as the budget of its workspace and
	// interval: a new row (b.ID, b.CreatedAt as given), or the existing
	// one with b.Limit and b.UpdatedAt (its ID and CreatedAt kept, and
	// set in b). With setBYOK, b.IncludeBYOK is written to every budget
	// of the workspace; without, b takes the workspace's (false when it
	// had no budget), set in b. The change is announced (ChangeBudget,
	// the workspace id) in the same transaction, in which no other put on
	// the workspace comes between its reads and writes. ErrNotFound if
	// the workspace does not exist.
	PutWorkspaceBudget(ctx context.Context, b *WorkspaceBudget, setBYOK bool) error
	// WorkspaceBudgets returns the budgets of a workspace, lifetime first,
	// then daily, weekly, monthly.
	WorkspaceBudgets(ctx context.Context, workspaceID string) ([]*WorkspaceBudget, error)
	// DeleteWorkspaceBudget deletes the budget of a workspace and interval
	// and announces it (ChangeBudget). ErrNotFound if there is none.
	DeleteWorkspaceBudget(ctx context.Context, workspaceID string, interval LimitReset) error
}

// Audit actions of workspace budgets.
const (
	AuditBudgetSet     = "workspace.budget_set"
	AuditBudgetDeleted = "workspace.budget_deleted"
)

var errBudgetNotFound = &Error{Code: ENOTFOUND, Message: "Budget not found"}

// SetWorkspaceBudget sets the budget of the user's workspace ref (its id
// or slug) for interval (daily, weekly, monthly or lifetime) to limitUSD,
// a number of USD from 0 to MaxLimitUSD with at most six decimals (0
// refuses every request). includeBYOK, when not nil, sets
// include_byok_in_budgets for every budget of the workspace; nil keeps
// what the workspace has. It returns the stored budget: a new one, or the
// interval's existing one with its id and created_at. OpenRouter PUT
// /workspaces/{workspace_ref}/budgets/{interval}.
//
// Errors: EINVALID naming interval or limit_usd; ENOTFOUND when the user
// has no such workspace.
func (s *Service) SetWorkspaceBudget(ctx context.Context, userID, ref, interval string, limitUSD float64, includeBYOK *bool) (*WorkspaceBudget, error) {
	iv, err := ParseBudgetInterval(interval)
	if err != nil {
		return nil, err
	}
	limit, err := MicrosFromUSD("limit_usd", limitUSD)
	if err != nil {
		return nil, err
	}
	ws, err := s.GetWorkspace(ctx, userID, ref)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	b := &WorkspaceBudget{ID: uuid.NewString(), WorkspaceID: ws.ID, Interval: iv, Limit: limit, CreatedAt: now, UpdatedAt: now}
	if includeBYOK != nil {
		b.IncludeBYOK = *includeBYOK
	}
	if err := s.store.PutWorkspaceBudget(ctx, b, includeBYOK != nil); errors.Is(err, ErrNotFound) {
		return nil, errWorkspaceNotFound
	} else if err != nil {
		return nil, fmt.Errorf("put workspace budget: %w", err)
	}
	s.budgetsChanged(ws.ID)
	s.audit(ctx, AuditEvent{Action: AuditBudgetSet, ActorUserID: userID,
		Detail: fmt.Sprintf("workspace=%s interval=%s limit_micros=%d include_byok=%t", ws.ID, intervalName(iv), limit, b.IncludeBYOK)})
	return b, nil
}

// WorkspaceBudgets returns the budgets of the user's workspace ref (id or
// slug), lifetime first, then daily, weekly, monthly, and the workspace's
// include_byok_in_budgets. Errors: ENOTFOUND when the user has no such
// workspace.
func (s *Service) WorkspaceBudgets(ctx context.Context, userID, ref string) ([]*WorkspaceBudget, bool, error) {
	ws, err := s.GetWorkspace(ctx, userID, ref)
	if err != nil {
		return nil, false, err
	}
	list, err := s.store.WorkspaceBudgets(ctx, ws.ID)
	if err != nil {
		return nil, false, fmt.Errorf("workspace budgets: %w", err)
	}
	return list, len(list) > 0 && list[0].IncludeBYOK, nil
}

// WorkspaceBudget returns the budget of the user's workspace ref for
// interval. Errors: EINVALID naming interval; ENOTFOUND when the user has
// no such workspace, or it has no budget for interval.
func (s *Service) WorkspaceBudget(ctx context.Context, userID, ref, interval string) (*WorkspaceBudget, error) {
	iv, err := ParseBudgetInterval(interval)
	if err != nil {
		return nil, err
	}
	list, _, err := s.WorkspaceBudgets(ctx, userID, ref)
	if err != nil {
		return nil, err
	}
	for _, b := range list {
		if b.Interval == iv {
			return b, nil
		}
	}
	return nil, errBudgetNotFound
}

// DeleteWorkspaceBudget deletes the budget of the user's workspace ref for
// interval: the workspace's spending in that window is no longer capped.
// Errors: EINVALID naming interval; ENOTFOUND when the user has no such
// workspace, or it has no budget for interval.
func (s *Service) DeleteWorkspaceBudget(ctx context.Context, userID, ref, interval string) error {
	iv, err := ParseBudgetInterval(interval)
	if err != nil {
		return err
	}
	ws, err := s.GetWorkspace(ctx, userID, ref)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWorkspaceBudget(ctx, ws.ID, iv); errors.Is(err, ErrNotFound) {
		return errBudgetNotFound
	} else if err != nil {
		return fmt.Errorf("delete workspace budget: %w", err)
	}
	s.budgetsChanged(ws.ID)
	s.audit(ctx, AuditEvent{Action: AuditBudgetDeleted, ActorUserID: userID,
		Detail: fmt.Sprintf("workspace=%s interval=%s", ws.ID, intervalName(iv))})
	return nil
}

// BudgetsIncludeBYOK reports the include_byok_in_budgets of the workspace
// wsID, which the caller has checked is the user's: whether spending with
// the user's own provider keys counts towards its budgets; false when it
// has none. Read from the budgets cached per workspace.
func (s *Service) BudgetsIncludeBYOK(ctx context.Context, wsID string) (bool, error) {
	keys, err := s.workspaceBudgets(ctx, wsID)
	return len(keys) > 0 && keys[0].IncludeBYOK, err
}

// intervalName is the path segment of a budget's interval.
func intervalName(iv LimitReset) string {
	if iv == ResetNone {
		return BudgetIntervalLifetime
	}
	return string(iv)
}

// budgetCache holds, per workspace, the stand-in keys of its budgets
// (budgetKey), read from the store once per change: a change on any
// process drops the workspace's entry (ChangeBudget), and the next request
// of one of its keys reads it again. A workspace without budgets is cached
// as an empty list, so its requests cost one map lookup.
type budgetCache struct {
	mu  sync.RWMutex
	m   map[string][]*APIKey
	gen uint64 // counts drops, so that a read before a drop is not stored after it
	max int
}

func newBudgetCache(max int) *budgetCache {
	return &budgetCache{m: make(map[string][]*APIKey), max: max}
}

// workspaceBudgets returns the stand-in keys of the budgets of workspace
// wsID, from the cache or, on a miss, from the store.
func (s *Service) workspaceBudgets(ctx context.Context, wsID string) ([]*APIKey, error) {
	if wsID == "" {
		return nil, nil
	}
	c := s.budgets
	c.mu.RLock()
	keys, ok := c.m[wsID]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return keys, nil
	}
	list, err := s.store.WorkspaceBudgets(ctx, wsID)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("workspace budgets: %w: %w", errUnavailable, err)
	}
	keys = make([]*APIKey, len(list))
	for i, b := range list {
		keys[i] = budgetKey(b)
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.m) >= c.max {
			for old := range c.m { // random eviction
				delete(c.m, old)
				break
			}
		}
		c.m[wsID] = keys
	}
	c.mu.Unlock()
	return keys, nil
}

// budgetsChanged drops what this process holds of workspace wsID's
// budgets: the cached list, and the leases of its budget windows.
func (s *Service) budgetsChanged(wsID string) {
	c := s.budgets
	c.mu.Lock()
	delete(c.m, wsID)
	c.gen++
	c.mu.Unlock()
	for _, iv := range []LimitReset{ResetNone, ResetDaily, ResetWeekly, ResetMonthly} {
		s.spend.keyChanged(BudgetCounterHash(wsID, iv))
	}
}

// clear drops every cached budget: changes may have been
// missed.
func (c *budgetCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.gen++
	c.mu.Unlock()
}
