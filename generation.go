package keygate

import (
	"context"
	"sync"
	"time"
)

// Generation is one metered request as /api/v1/generation reports it
// (OpenRouter spec path GET /generation). Money in micro-dollars.
type Generation struct {
	ID                    string // the upstream answer's id; unique
	KeyHash               string
	UserID                string
	WorkspaceID           string
	AppID                 *int64 // the app of this request's attribution headers, else the key's app
	Model                 string // the client-facing model name
	UpstreamModel         string // what the upstream was asked for
	Provider              string // the upstream's configured name
	Endpoint              string // "chat/completions", "completions" or "embeddings"
	PromptTokens          int64
	CompletionTokens      int64
	ReasoningTokens       int64
	CachedTokens          int64
	Cost                  Micros // what the key is charged
	UpstreamInferenceCost Micros // upstream-reported cost for BYOK answers, else 0
	BYOK                  bool
	CostEstimated         bool // usage was missing: charged by the documented fallback
	Streamed              bool
	Cancelled             bool          // the client went away before the end
	FinishReason          string        // "stop", "length", "error", … or "" when unknown
	Latency               time.Duration // request start to first byte from the upstream
	GenerationTime        time.Duration // request start to the end
	CreatedAt             time.Time     // UTC
}

// Generation returns the generation with id if it was charged to a key of
// userID. ENOTFOUND otherwise.
func (s *Service) Generation(ctx context.Context, userID, id string) (*Generation, error) {
	g := s.gens.get(id)
	if g == nil || g.UserID != userID {
		return nil, Errorf(ENOTFOUND, "Generation not found")
	}
	return g, nil
}

// generations holds this process's generations in memory.
type generations struct {
	mu   sync.Mutex
	byID map[string]*Generation
}

// add stores a copy of g and reports whether its id was new.
func (gs *generations) add(g *Generation) bool {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if _, ok := gs.byID[g.ID]; ok {
		return false
	}
	if gs.byID == nil {
		gs.byID = map[string]*Generation{}
	}
	c := *g
	gs.byID[g.ID] = &c
	return true
}

func (gs *generations) get(id string) *Generation {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if g, ok := gs.byID[id]; ok {
		c := *g
		return &c
	}
	return nil
}
