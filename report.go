package keygate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// UsageEvent is one request that a proxy keygate does not run reports as
// spent (POST /api/v1/usage). Money is in micro-dollars.
type UsageEvent struct {
	// ID is the reporter's id of the request, 1 to MaxUsageEventID
	// visible ASCII characters: an event is charged once per ID, however
	// often it is reported.
	ID string
	// KeyHash names the key charged; Key, the key's secret, may be given
	// instead (it is hashed, never stored).
	KeyHash, Key                   string
	Model                          string // the model the request asked for; required
	PromptTokens, CompletionTokens int64
	// Cost is what the request cost; nil prices the tokens by the price
	// function ReportUsage is given.
	Cost *Micros
	// App is the request's attribution headers; AppID names a stored app
	// instead. With neither, the key's app.
	App   *Attribution
	AppID *int64
	// CreatedAt is when the request was made; zero is now. It may not be
	// more than MaxUsageClockSkew in the future.
	CreatedAt time.Time
}

// Limits of a usage report.
const (
	MaxUsageEvents    = 1000            // events in one batch
	MaxUsageEventID   = 200             // bytes of an event id
	MaxUsageClockSkew = 5 * time.Minute // how far in the future created_at may be
	usageIDPrefix     = "usage-"        // namespaces event ids among generation ids
	usageWorkers      = 8               // events of a batch settled at once
)

// UsageReport is the answer to a usage batch: how many events were charged
// now, how many had been charged before (by an earlier report of the same
// ids), and each event refused with why.
type UsageReport struct {
	Accepted, Duplicates int
	Rejected             []RejectedEvent
}

// RejectedEvent is an event of a batch that was not charged.
type RejectedEvent struct {
	ID    string
	Error string
}

// Pricer returns what promptTokens and completionTokens of model cost, ok
// false for a model it has no price for. The gateway's models file
// provides one (gateway.Gateway.Price).
type Pricer func(model string, promptTokens, completionTokens int64) (cost Micros, ok bool)

// ReportUsage charges the events that a proxy reports, each as Settle
// charges a generation without a reservation: to the key and every
// delegation ancestor, in the usage periods containing its CreatedAt,
// attributed to the app of its App headers (AttributeApp), else AppID,
// else the key's app. The generation stored has the id "usage-" + ID, so
// Service.Generation finds it under that id and a reported id never meets
// one of the gateway's.
//
// Each event is judged alone: a bad one (no or bad id, no key or an
// unknown one, no model, a negative count, no cost and no price for the
// model, an unknown app_id, a created_at too far in the future) is
// rejected with the reason, the others are charged. An event whose id was
// charged before is a duplicate, charged nothing again, whatever its
// payload now. A key is charged even when it was disabled since: the money
// was spent.
//
// Errors: EINVALID for an empty batch or one of more than MaxUsageEvents
// events; EUNAVAILABLE when the store fails (the events before the failure
// may be charged: reporting the batch again charges each once).
func (s *Service) ReportUsage(ctx context.Context, events []UsageEvent, price Pricer) (*UsageReport, error) {
	switch {
	case len(events) == 0:
		return nil, Errorf(EINVALID, "events must hold at least one event")
	case len(events) > MaxUsageEvents:
		return nil, Errorf(EINVALID, "events must hold at most %d events", MaxUsageEvents)
	}
	type result struct {
		charged bool
		err     error
	}
	results := make([]result, len(events))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(usageWorkers, len(events)) {
		wg.Go(func() {
			for i := range next {
				results[i].charged, results[i].err = s.reportEvent(ctx, &events[i], price)
			}
		})
	}
	for i := range events {
		next <- i
	}
	close(next)
	wg.Wait()

	rep := &UsageReport{Rejected: []RejectedEvent{}}
	for i, r := range results {
		switch {
		case ErrorCode(r.err) == EUNAVAILABLE:
			return nil, r.err
		case r.err != nil && ErrorCode(r.err) == EINTERNAL:
			return nil, fmt.Errorf("report usage: %w: %w", errUnavailable, r.err)
		case r.err != nil:
			rep.Rejected = append(rep.Rejected, RejectedEvent{ID: events[i].ID, Error: ErrorMessage(r.err)})
		case r.charged:
			rep.Accepted++
		default:
			rep.Duplicates++
		}
	}
	return rep, nil
}

// reportEvent charges one event of ReportUsage; charged is false for a
// duplicate. A *Error rejects the event; any other error is the store's.
func (s *Service) reportEvent(ctx context.Context, e *UsageEvent, price Pricer) (charged bool, err error) {
	switch {
	case e.ID == "" || len(e.ID) > MaxUsageEventID || strings.IndexFunc(e.ID, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0:
		return false, Errorf(EINVALID, "id must be 1 to %d visible ASCII characters", MaxUsageEventID)
	case e.Model == "":
		return false, Errorf(EINVALID, "model is required")
	case e.PromptTokens < 0:
		return false, Errorf(EINVALID, "prompt_tokens must be >= 0")
	case e.CompletionTokens < 0:
		return false, Errorf(EINVALID, "completion_tokens must be >= 0")
	case e.CreatedAt.After(s.Now().Add(MaxUsageClockSkew)):
		return false, Errorf(EINVALID, "created_at must not be in the future")
	case e.Cost != nil && *e.Cost < 0:
		return false, Errorf(EINVALID, "cost must be >= 0")
	}
	hash := e.KeyHash
	switch {
	case e.Key != "" && hash != "":
		return false, Errorf(EINVALID, "give key_hash or key, not both")
	case e.Key != "":
		hash = HashSecret(e.Key)
	case hash == "":
		return false, Errorf(EINVALID, "key_hash or key is required")
	}
	k, err := s.cachedKey(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return false, Errorf(EINVALID, "no such key")
	} else if err != nil {
		return false, err
	}
	g := &Generation{
		ID: usageIDPrefix + e.ID, KeyHash: k.Hash, UserID: k.UserID, WorkspaceID: k.WorkspaceID,
		Model: e.Model, UpstreamModel: e.Model,
		PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens,
		CreatedAt: e.CreatedAt,
	}
	switch {
	case e.Cost != nil:
		g.Cost = *e.Cost
	case price == nil:
		return false, Errorf(EINVALID, "cost is required: no models file prices %q", e.Model)
	default:
		var ok bool
		if g.Cost, ok = price(e.Model, e.PromptTokens, e.CompletionTokens); !ok {
			return false, Errorf(EINVALID, "cost is required: the models file has no price for %q", e.Model)
		}
	}
	switch {
	case e.App != nil && e.AppID != nil:
		return false, Errorf(EINVALID, "give app or app_id, not both")
	case e.AppID != nil:
		if _, err := s.store.App(ctx, *e.AppID); errors.Is(err, ErrNotFound) {
			return false, Errorf(EINVALID, "app_id names no app")
		} else if err != nil {
			return false, err
		}
		g.AppID = e.AppID
	case e.App != nil:
		if g.AppID, err = s.AttributeApp(ctx, k, *e.App); err != nil {
			return false, err
		}
	default:
		g.AppID = k.AppID
	}
	return s.settle(ctx, nil, g)
}
