package gateway

import (
	"errors"
	"math"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/keygate/keygate"
)

// usage is the usage object of an answer or of a stream's last chunk
// (OpenAI's, with OpenRouter's cost accounting members).
type usage struct {
	PromptTokens        integer `json:"prompt_tokens"`
	CompletionTokens    integer `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens integer `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens integer `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	// Cost is OpenRouter's usage.cost in USD, kept as the number's text
	// so it is read exactly.
	Cost        number `json:"cost"`
	IsBYOK      bool   `json:"is_byok"`
	CostDetails *struct {
		UpstreamInferenceCost number `json:"upstream_inference_cost"`
	} `json:"cost_details"`
}

// choice holds the parts of a choice that the gateway reads: the finish
// reason and the text produced, for the fallback count.
type choice struct {
	FinishReason *string `json:"finish_reason"`
	Text         string  `json:"text"` // completions
	Delta        *output `json:"delta"`
	Message      *output `json:"message"`
}

type output struct {
	Content   jsontext.Value `json:"content"`
	Reasoning string         `json:"reasoning"`
	ToolCalls []struct {
		Function struct {
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// answer is what the gateway reads of a response body or stream chunk.
type answer struct {
	ID      string         `json:"id"`
	Model   string         `json:"model"`
	Created integer        `json:"created"`
	Choices []choice       `json:"choices"`
	Usage   *usage         `json:"usage"`
	Error   jsontext.Value `json:"error"`
}

// readAnswer decodes an answer body or stream chunk into a as
// encoding/json would (names match regardless of letter case, a name given
// twice is allowed and so is invalid UTF-8), at half its cost: FuzzReadAnswer
// holds the two to the same result. An answer whose id, model or created
// is of another JSON type than OpenAI's is read without them: what is
// metered (choices, usage, error) never goes unread for a member that is
// not.
func readAnswer(b []byte, a *answer) error {
	err := jsonv2.Unmarshal(b, a, answerOptions)
	if err == nil {
		return nil
	}
	var m struct {
		Choices []choice       `json:"choices"`
		Usage   *usage         `json:"usage"`
		Error   jsontext.Value `json:"error"`
	}
	if jsonv2.Unmarshal(b, &m, answerOptions) != nil {
		return err
	}
	*a = answer{Choices: m.Choices, Usage: m.Usage, Error: m.Error}
	return nil
}

var answerOptions = jsonv2.JoinOptions(jsonv2.MatchCaseInsensitiveNames(true), jsonv1.MatchCaseSensitiveDelimiter(true),
	jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// number is the text of a JSON number, or of a string holding one (as
// encoding/json's Number takes it); "" for null. Anything else is an
// error.
type number string

var errNotNumber = errors.New("not a number")

func (n *number) UnmarshalJSON(b []byte) error {
	v := jsontext.Value(b)
	switch v.Kind() {
	case 'n':
		return nil
	case '0':
		*n = number(b)
		return nil
	case '"':
		var s string
		if err := jsonv2.Unmarshal(b, &s); err != nil {
			return err
		}
		if t := jsontext.Value(s); t.Kind() != '0' || !t.IsValid() || strings.ContainsAny(s, " \t\r\n") {
			return errNotNumber
		}
		*n = number(s)
		return nil
	}
	return errNotNumber
}

// integer is a count or a time the upstream reports as a JSON number: an
// integer, or a number with a fraction (10.0 tokens, a Python server's
// time.time() as "created"), taken toward zero, within int64's range; 0
// for null. Anything else is an error. An answer is never unreadable, and
// so refused or free, for a number that is a float where OpenAI's is an
// integer.
type integer int64

func (n *integer) UnmarshalJSON(b []byte) error {
	switch jsontext.Value(b).Kind() {
	case 'n':
		*n = 0
		return nil
	case '0':
		if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			*n = integer(v)
			return nil
		}
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return err
		}
		switch {
		case f >= math.MaxInt64:
			*n = math.MaxInt64
		case f <= math.MinInt64:
			*n = math.MinInt64
		default:
			*n = integer(f) // toward zero
		}
		return nil
	}
	return errNotNumber
}

// outputBytes is the length of the text a chunk or body produced.
func (a *answer) outputBytes() int {
	n := 0
	for _, c := range a.Choices {
		n += len(c.Text)
		for _, o := range []*output{c.Delta, c.Message} {
			if o == nil {
				continue
			}
			var s string
			if jsonv2.Unmarshal(o.Content, &s, jsontext.AllowInvalidUTF8(true)) == nil {
				n += len(s)
			} else if string(o.Content) != "null" {
				n += len(o.Content)
			}
			n += len(o.Reasoning)
			for _, t := range o.ToolCalls {
				n += len(t.Function.Arguments)
			}
		}
	}
	return n
}

// finishReason is the answer's first non-null finish reason, or "".
func (a *answer) finishReason() string {
	for _, c := range a.Choices {
		if c.FinishReason != nil && *c.FinishReason != "" {
			return *c.FinishReason
		}
	}
	return ""
}

// meter collects what one request produced and prices it.
type meter struct {
	model       *Model
	promptBytes int
	usage       *usage // the last usage seen: read once per generation, never summed
	outBytes    int
}

// estimateTokens is the fallback token count for text: bytes/4 rounded
// up, so any text counts as at least one token.
func estimateTokens(bytes int) int64 { return int64((bytes + 3) / 4) }

// produced reports whether the upstream produced anything chargeable.
func (m *meter) produced() bool { return m.usage != nil || m.outBytes > 0 }

// fill sets the tokens and cost of g by the metering rules of
// docs/gateway.md: reported usage is authoritative, zeros included; a
// "pricing: upstream" model is charged usage.cost (plus
// cost_details.upstream_inference_cost when is_byok); missing usage or
// cost is charged by the fallback and flagged CostEstimated.
func (m *meter) fill(g *keygate.Generation) {
	p := m.model.Pricing
	if u := m.usage; u != nil {
		// A negative count from the upstream is taken as 0.
		g.PromptTokens, g.CompletionTokens = max(int64(u.PromptTokens), 0), max(int64(u.CompletionTokens), 0)
		if u.PromptTokensDetails != nil {
			g.CachedTokens = max(int64(u.PromptTokensDetails.CachedTokens), 0)
		}
		if u.CompletionTokensDetails != nil {
			g.ReasoningTokens = max(int64(u.CompletionTokensDetails.ReasoningTokens), 0)
		}
		if !p.Upstream {
			g.Cost = Cost(g.PromptTokens, g.CompletionTokens, p.Prompt, p.Completion)
			return
		}
		if cost, ok := keygate.MicrosFromUSDText(string(u.Cost)); ok {
			g.Cost = cost
			if u.IsBYOK && u.CostDetails != nil {
				if up, ok := keygate.MicrosFromUSDText(string(u.CostDetails.UpstreamInferenceCost)); ok {
					g.BYOK, g.UpstreamInferenceCost = true, up
					g.Cost += up
				}
			}
			return
		}
	} else {
		g.PromptTokens = estimateTokens(m.promptBytes)
		g.CompletionTokens = estimateTokens(m.outBytes)
	}
	g.CostEstimated = true
	prompt, completion := p.tokenPrices()
	g.Cost = Cost(g.PromptTokens, g.CompletionTokens, prompt, completion)
}

// tokenPrices are the prices of tokens: the configured ones, or for
// "pricing: upstream" the fallback_pricing (DefaultFallbackPrice when
// absent), which prices answers without a reported cost and reservations.
func (p Pricing) tokenPrices() (prompt, completion Price) {
	switch {
	case !p.Upstream:
		return p.Prompt, p.Completion
	case p.Fallback != nil:
		return p.Fallback.Prompt, p.Fallback.Completion
	}
	return DefaultFallbackPrice, DefaultFallbackPrice
}
