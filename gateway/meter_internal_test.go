package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// answerView is what the gateway reads of an answer, for comparing two
// decodings.
func answerView(a *answer) string {
	v := fmt.Sprintf("id=%q model=%q created=%d finish=%q out=%d error=%t", a.ID, a.Model, a.Created, a.finishReason(), a.outputBytes(), len(a.Error) > 0 && string(a.Error) != "null")
	if u := a.Usage; u != nil {
		v += fmt.Sprintf(" usage=%d/%d cost=%q byok=%t", u.PromptTokens, u.CompletionTokens, u.Cost, u.IsBYOK)
		if u.PromptTokensDetails != nil {
			v += fmt.Sprintf(" cached=%d", u.PromptTokensDetails.CachedTokens)
		}
		if u.CompletionTokensDetails != nil {
			v += fmt.Sprintf(" reasoning=%d", u.CompletionTokensDetails.ReasoningTokens)
		}
		if u.CostDetails != nil {
			v += fmt.Sprintf(" upstream=%q", u.CostDetails.UpstreamInferenceCost)
		}
	}
	return v
}

// v1Answer is answer as encoding/json read it before readAnswer: the
// reference readAnswer must agree with.
type v1Answer struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Created int64  `json:"created"`
	Choices []struct {
		FinishReason *string `json:"finish_reason"`
		Text         string  `json:"text"`
		Delta        *v1Out  `json:"delta"`
		Message      *v1Out  `json:"message"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails *struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
		Cost        json.Number `json:"cost"`
		IsBYOK      bool        `json:"is_byok"`
		CostDetails *struct {
			UpstreamInferenceCost json.Number `json:"upstream_inference_cost"`
		} `json:"cost_details"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type v1Out struct {
	Content   json.RawMessage `json:"content"`
	Reasoning string          `json:"reasoning"`
	ToolCalls []struct {
		Function struct {
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// readV1 decodes b with encoding/json into an answer, through v1Answer.
func readV1(b []byte, a *answer) error {
	var v v1Answer
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.ID, a.Model, a.Created, a.Error = v.ID, v.Model, integer(v.Created), jsontext.Value(v.Error)
	out := func(o *v1Out) *output {
		if o == nil {
			return nil
		}
		r := &output{Content: jsontext.Value(o.Content), Reasoning: o.Reasoning}
		for _, tc := range o.ToolCalls {
			r.ToolCalls = append(r.ToolCalls, struct {
				Function struct {
					Arguments string `json:"arguments"`
				} `json:"function"`
			}{Function: struct {
				Arguments string `json:"arguments"`
			}{tc.Function.Arguments}})
		}
		return r
	}
	for _, c := range v.Choices {
		a.Choices = append(a.Choices, choice{FinishReason: c.FinishReason, Text: c.Text, Delta: out(c.Delta), Message: out(c.Message)})
	}
	if u := v.Usage; u != nil {
		a.Usage = &usage{PromptTokens: integer(u.PromptTokens), CompletionTokens: integer(u.CompletionTokens),
			Cost: number(u.Cost), IsBYOK: u.IsBYOK}
		if d := u.PromptTokensDetails; d != nil {
			a.Usage.PromptTokensDetails = &struct {
				CachedTokens integer `json:"cached_tokens"`
			}{integer(d.CachedTokens)}
		}
		if d := u.CompletionTokensDetails; d != nil {
			a.Usage.CompletionTokensDetails = &struct {
				ReasoningTokens integer `json:"reasoning_tokens"`
			}{integer(d.ReasoningTokens)}
		}
		if u.CostDetails != nil {
			a.Usage.CostDetails = &struct {
				UpstreamInferenceCost number `json:"upstream_inference_cost"`
			}{number(u.CostDetails.UpstreamInferenceCost)}
		}
	}
	return nil
}

var answerSeeds = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":20,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":4},"cost":0.000035,"is_byok":true,"cost_details":{"upstream_inference_cost":"0.00003"}}}`,
	`{"id":"x","choices":[{"delta":{"content":"a\u00e9\"b","reasoning":"why","tool_calls":[{"function":{"arguments":"{}"}}]},"finish_reason":null}],"usage":null}`,
	`{"ID":"upper","Usage":{"Prompt_Tokens":1,"COST":"1e-6"},"choices":[{"text":"done","finish_reason":"length"}]}`,
	`{"id":"a","id":"b","usage":{"prompt_tokens":1},"usage":{"completion_tokens":2}}`,
	`{"choices":[{"message":{"content":[{"type":"text","text":"parts"}]}}]}`,
	`{"error":{"code":500,"message":"boom"}}`,
	`{"usage":{"cost":true}}`,
	`{"usage":{"cost":"abc"}}`,
	`{"created":1.5,"usage":{"prompt_tokens":10.0,"completion_tokens":2e1,"prompt_tokens_details":{"cached_tokens":-1.5}}}`,
	`{"usage":{"prompt_tokens":1e400}}`,
	`{"usage":{"prompt_tokens":"10"}}`,
	"{\"id\":\"\xff\xfe\",\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}",
	`[1]`,
	`{}`,
}

// TestReadAnswer: readAnswer reads what encoding/json read, as it read
// it; what encoding/json refused readAnswer may read (a float where an
// integer is expected: integer), and what readAnswer refuses
// encoding/json refused.
func TestReadAnswer(t *testing.T) {
	for _, in := range answerSeeds {
		compareAnswer(t, []byte(in))
	}
}

// FuzzReadAnswer: the same, for any body.
func FuzzReadAnswer(f *testing.F) {
	for _, in := range answerSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { compareAnswer(t, b) })
}

func compareAnswer(t *testing.T, b []byte) {
	t.Helper()
	var got, want answer
	errGot, errWant := readAnswer(b, &got), readV1(b, &want)
	if errGot != nil && errWant == nil {
		t.Fatalf("%q: readAnswer error %v, where encoding/json read it", b, errGot)
	}
	if errWant == nil && answerView(&got) != answerView(&want) {
		t.Fatalf("%q:\nreadAnswer    %s\nencoding/json %s", b, answerView(&got), answerView(&want))
	}
}

// TestInteger: counts and times as floats are taken toward zero, within
// int64's range; a string or a boolean is not a number.
func TestInteger(t *testing.T) {
	tests := []struct {
		in   string
		want integer
		ok   bool
	}{
		{`10`, 10, true},
		{`10.0`, 10, true},
		{`2e1`, 20, true},
		{`1733612345.987`, 1733612345, true},
		{`-1.5`, -1, true},
		{`1e400`, math.MaxInt64, true},
		{`-1e400`, math.MinInt64, true},
		{`null`, 0, true},
		{`"10"`, 0, false},
		{`true`, 0, false},
	}
	for _, tt := range tests {
		var n integer = 99
		err := n.UnmarshalJSON([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && n != tt.want) {
			t.Errorf("integer(%s) = %d, %v; want %d, ok %v", tt.in, n, err, tt.want, tt.ok)
		}
	}
}
