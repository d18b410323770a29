package gateway

import "testing"

func TestNormalizeChunk(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"id-without-null", `{"id":"x","choices":[{"delta":{"content":"hi"}}]}`, `{"id":"gen-1","choices":[{"delta":{"content":"hi"}}]}`},
		{"id-not-first", `{"object":"chat.completion.chunk","id":"x","choices":[]}`, `{"object":"chat.completion.chunk","id":"gen-1","choices":[]}`},
		{"id-escaped", `{"id":"a\"b","choices":[]}`, `{"id":"gen-1","choices":[]}`},
		{"id-spaced", `{ "id" : "x" ,"choices":[]}`, `{"id":"gen-1","choices":[]}`},
		{"no-id", `{"choices":[]}`, `{"choices":[]}`},
		{"id-twice", `{"id":"a","choices":[],"id":"b"}`, `{"id":"gen-1","choices":[],"id":"gen-1"}`},
		{"usage-null", `{"id":"x","usage":null,"choices":[]}`, `{"id":"gen-1","choices":[]}`},
		{"fingerprint-null", `{"system_fingerprint":null,"id":"x"}`, `{"id":"gen-1"}`},
		{"both", `{"id":"x", "system_fingerprint": null, "usage": null}`, `{"id":"gen-1"}`},
		{"other-nulls-kept", `{"id":"x","choices":[{"finish_reason":null,"delta":{"content":"a null"}}],"usage":null}`, `{"id":"gen-1","choices":[{"finish_reason":null,"delta":{"content":"a null"}}]}`},
		{"usage-object-kept", `{"usage":{"prompt_tokens":1},"x":null}`, `{"usage":{"prompt_tokens":1},"x":null}`},
		{"fingerprint-kept", `{"system_fingerprint":"fp_1","x":null}`, `{"system_fingerprint":"fp_1","x":null}`},
		{"not-json", `not json null`, `not json null`},
		{"array", `[null]`, `[null]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(normalizeChunk([]byte(tt.in), []byte(`"gen-1"`))); got != tt.want {
				t.Errorf("normalizeChunk(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeBody(t *testing.T) {
	tests := []struct {
		name, in string
		chat     bool
		want     string
	}{
		{"chat-fingerprint-added", `{"id":"x","usage":null}`, true, `{"id":"gen-1","system_fingerprint":null}`},
		{"chat-fingerprint-null-kept", `{"id":"x","system_fingerprint":null}`, true, `{"id":"gen-1","system_fingerprint":null}`},
		{"chat-leading-space", "  {\"id\":\"x\",\"system_fingerprint\":\"fp\"}", true, `{"id":"gen-1","system_fingerprint":"fp"}`},
		{"chat-empty", `{}`, true, `{"id":"gen-1","system_fingerprint":null}`},
		{"chat-only-null-usage", ` {"usage":null} `, true, `{"id":"gen-1","system_fingerprint":null}`},
		{"chat-id-added", `{"object":"chat.completion","system_fingerprint":null}`, true, `{"object":"chat.completion","system_fingerprint":null,"id":"gen-1"}`},
		{"completions-id", `{"id":"cmpl-1","object":"text_completion"}`, false, `{"id":"gen-1","object":"text_completion"}`},
		{"embeddings-untouched", `{"object":"list","data":[]}`, false, `{"object":"list","data":[]}`},
		{"not-json", `oops`, true, `oops`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(normalizeBody([]byte(tt.in), []byte(`"gen-1"`), tt.chat)); got != tt.want {
				t.Errorf("normalizeBody(%s, %v) = %s, want %s", tt.in, tt.chat, got, tt.want)
			}
		})
	}
}
