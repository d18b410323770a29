package keygate

import (
	"errors"
	"strings"
)

// Observer hears what the service does, for metrics (package metrics). Its
// methods are called on the request path: they must be quick, safe for
// concurrent use, and never block.
type Observer interface {
	// KeyLookup is called for each key looked up through the key cache:
	// hit is true when the cache had it, false when the store was read.
	KeyLookup(hit bool)
	// Charged is called once for each generation charged (by Settle or
	// ReportUsage), after the charge is durable; never for a duplicate.
	Charged(g *Generation)
	// LimitRefused is called for each request Reserve or Admit refuses
	// because a key's limit is reached, with the limit's window: "daily",
	// "weekly", "monthly" or "total".
	LimitRefused(window string)
	// Audited is called with the action of each audit event
	// (AuditCodeCreated, AuditCodeExchanged, AuditReplayDetected, …).
	Audited(action string)
}

// WithObserver makes o hear what the service does.
func WithObserver(o Observer) Option { return func(s *Service) { s.obs = o } }

// nopObserver is the Observer of a service given none.
type nopObserver struct{}

func (nopObserver) KeyLookup(bool)      {}
func (nopObserver) Charged(*Generation) {}
func (nopObserver) LimitRefused(string) {}
func (nopObserver) Audited(string)      {}

// limitErrors are the 403s of a key past its limit, one per window, and
// limitWindows the window of each, so that a refusal's window is known by
// the error's identity.
var (
	limitErrors  = map[LimitReset]*Error{}
	limitWindows = map[*Error]string{}
)

func init() {
	for _, r := range []LimitReset{ResetNone, ResetDaily, ResetWeekly, ResetMonthly} {
		window := string(r)
		if r == ResetNone {
			window = "total"
		}
		e := Errorf(EFORBIDDEN, "Key limit exceeded (%s limit)", window)
		limitErrors[r], limitWindows[e] = e, window
	}
}

// PolicyObserver is an Observer that also hears of the refusals by a
// policy above the key (metrics.Metrics is one).
type PolicyObserver interface {
	// PolicyRefused is called for each request refused by a policy above
	// the key: "workspace_budget" (a budget of its workspace reached),
	// "guardrail_limit" (a guardrail's limit_usd reached) or
	// "guardrail_model" (a model or provider a guardrail does not allow).
	PolicyRefused(policy string)
}

// Policies of PolicyRefused, and the start of the messages of their
// refusals (refusal, Service.CheckModel), by which observeRefusal knows
// them.
var policyRefusals = []struct{ prefix, policy string }{
	{msgBudgetExceeded, "workspace_budget"},
	{msgGuardrailExceeded, "guardrail_limit"},
	{msgModelRefused, "guardrail_model"},
	{msgProviderRefused, "guardrail_model"},
}

// observeRefusal tells the observer when err refuses a request at a limit
// or a policy.
func (s *Service) observeRefusal(err error) {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return
	}
	if window, ok := limitWindows[e]; ok {
		s.obs.LimitRefused(window)
		return
	}
	po, ok := s.obs.(PolicyObserver)
	if !ok || e.Code != EFORBIDDEN {
		return
	}
	for _, p := range policyRefusals {
		if strings.HasPrefix(e.Message, p.prefix) {
			po.PolicyRefused(p.policy)
			return
		}
	}
}

// KeyCacheLen returns how many keys the in-process key cache holds, for a
// metrics gauge.
func (s *Service) KeyCacheLen() int { return s.keys.len() }
