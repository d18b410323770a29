package keygate

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Generation is one metered request as GET /api/v1/generation reports it
// (OpenRouter spec path GET /generation). Money is in micro-dollars.
type Generation struct {
	// ID is unique: a generation is charged once. The gateway's is the
	// upstream answer's id ("gen-…", "chatcmpl-…") when it is usable;
	// Settle makes one ("gen-<unix>-<32 hex>") when it is empty; usage reported
	// by another gateway (POST /api/v1/usage) names its own.
	ID          string
	KeyHash     string
	UserID      string
	WorkspaceID string
	// AppID is the app of this request's attribution headers, else the
	// key's app (Service.AttributeApp); nil for none.
	AppID         *int64
	Model         string // the client-facing model name the request asked for
	UpstreamModel string // what the upstream was asked for
	Provider      string // the upstream's configured name
	Endpoint      string // "chat/completions", "completions" or "embeddings"

	PromptTokens, CompletionTokens, ReasoningTokens, CachedTokens int64

	Cost                  Micros // what the key is charged
	UpstreamInferenceCost Micros // upstream-reported cost for BYOK answers, else 0
	BYOK                  bool   // paid with the user's own provider key: counts in the BYOK sums
	CostEstimated         bool   // usage was missing: charged by the documented fallback
	Streamed              bool
	Cancelled             bool   // the client went away before the end
	FinishReason          string // "stop", "length", "tool_calls", "error", … or "" when unknown

	Latency        time.Duration // request start to first byte from the upstream
	GenerationTime time.Duration // request start to the end
	// CreatedAt is when the request was made, UTC: the charge lands in
	// the usage periods containing it.
	CreatedAt time.Time
	// UpstreamID is the upstream answer's own id ("chatcmpl-…"), "" when
	// it sent none (OpenRouter's upstream_id). It need not be unique:
	// small local servers draw ids from a small range. Settle keeps it
	// only when it is 1 to 256 visible ASCII characters.
	UpstreamID string
}

// errGenerationNotFound is the 404 for a generation that does not exist or
// belongs to another user: the two are not told apart.
var errGenerationNotFound = Errorf(ENOTFOUND, "Generation not found")

// Generation returns the generation with id if it was charged to a key of
// userID (OpenRouter spec path GET /generation). It is found as soon as
// the Settle that stored it has returned.
//
// Errors: ENOTFOUND when there is no such generation or it is another
// user's (never saying which).
func (s *Service) Generation(ctx context.Context, userID, id string) (*Generation, error) {
	if id == "" || len(id) > maxGenerationID {
		return nil, errGenerationNotFound
	}
	g, err := s.store.Generation(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && g.UserID != userID) {
		return nil, errGenerationNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	return g, nil
}

// maxGenerationID bounds the length of a generation id, in bytes.
const maxGenerationID = 256
