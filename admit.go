package keygate

import (
	"context"
	"fmt"
	"time"
)

// Admission is what Admit found for a key it admits.
type Admission struct {
	Key *APIKey
	// Remaining is the smallest room left, in micro-dollars, along the
	// key and its delegation ancestors that have a limit; nil when none
	// has one.
	Remaining *Micros
}

// Admit decides whether k, a key that Authenticate returned, may spend
// now, for a proxy that asks before each request (GET
// /api/v1/auth/verify) and reports the cost afterwards (ReportUsage). It
// holds nothing: a verified request is charged what is reported for it.
//
// The rule is Reserve's, read from the usage GET /api/v1/key reports
// (KeyInfo: from the cache for a cached key, so a verify costs no
// database round trip): disabled, expired or gone, k or an ancestor, is
// EUNAUTHORIZED; a user whose credit balance is used up is EPAYMENT
// (402, credits.go); usage equal to or past the limit of k or an ancestor
// (a limit of 0 included) is EFORBIDDEN "Key limit exceeded
// (<daily|weekly|monthly|total> limit)" naming that key's window.
// Each budget of k's workspace is checked against what the workspace spent
// in its window (read from the store at most once per Config.BalanceTTL,
// and at once after a charge through this Service): at or past it is
// EFORBIDDEN "Workspace budget exceeded (<window> budget of workspace
// <id>)", and Remaining counts it; so is each limit of a guardrail of k or
// of an ancestor ("Guardrail limit exceeded (<window> limit of guardrail
// <id>)"). A guardrail's model and provider lists are not checked: a
// verify names no model (CheckModel is the gateway's). A management key
// is EFORBIDDEN MsgManagementSpend.
// EUNAVAILABLE when usage cannot be read from the store.
func (s *Service) Admit(ctx context.Context, k *APIKey) (*Admission, error) {
	now := s.Now()
	if err := checkSpender(k, now); err != nil {
		return nil, err
	}
	ancestors, err := s.activeAncestors(ctx, k)
	if err != nil {
		return nil, err
	}
	if err := s.checkCredits(ctx, k.UserID); err != nil {
		return nil, err
	}
	a := &Admission{Key: k}
	for _, c := range append([]*APIKey{k}, ancestors...) {
		if c.Limit == nil {
			continue
		}
		info, err := s.KeyInfo(ctx, c)
		if err != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", errUnavailable, err)
			}
			return nil, err
		}
		left := *info.Remaining
		if left <= 0 {
			err := refusal(c)
			s.observeRefusal(err)
			return nil, err
		}
		if a.Remaining == nil || left < *a.Remaining {
			a.Remaining = &left
		}
	}
	budgets, err := s.workspaceBudgets(ctx, k.WorkspaceID)
	if err != nil {
		return nil, err
	}
	policy, err := s.policyOf(ctx, k)
	if err != nil {
		return nil, err
	}
	for _, group := range [2][]*APIKey{budgets, policy.limits} {
		for _, b := range group {
			if err := s.admitShared(ctx, a, b, now); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// admitShared checks b, the stand-in key of a workspace budget or a
// guardrail's limit, for Admit, and lowers a.Remaining to its room.
func (s *Service) admitShared(ctx context.Context, a *Admission, b *APIKey, now time.Time) error {
	u, err := s.spend.usage(ctx, b.Hash, now)
	if err != nil {
		return err
	}
	left := *b.Limit - u.PeriodUsage(b.LimitReset, b.IncludeBYOK)
	if left <= 0 {
		err := refusal(b)
		s.observeRefusal(err)
		return err
	}
	if a.Remaining == nil {
		a.Remaining = &left
	} else if left < *a.Remaining {
		*a.Remaining = left
	}
	return nil
}
