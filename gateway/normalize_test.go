package gateway

import "testing"

func TestNormalizeChunk(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"untouched-without-null", `{"id":"x","choices":[{"delta":{"content":"hi"}}]}`, `{"id":"x","choices":[{"delta":{"content":"hi"}}]}`},
		{"usage-null", `{"id":"x","usage":null,"choices":[]}`, `{"id":"x","choices":[]}`},
		{"fingerprint-null", `{"system_fingerprint":null,"id":"x"}`, `{"id":"x"}`},
		{"both", `{"id":"x", "system_fingerprint": null, "usage": null}`, `{"id":"x"}`},
		{"other-nulls-kept", `{"id":"x","choices":[{"finish_reason":null,"delta":{"content":"a null"}}],"usage":null}`, `{"id":"x","choices":[{"finish_reason":null,"delta":{"content":"a null"}}]}`},
		{"usage-object-kept", `{"usage":{"prompt_tokens":1},"x":null}`, `{"usage":{"prompt_tokens":1},"x":null}`},
		{"fingerprint-kept", `{"system_fingerprint":"fp_1","x":null}`, `{"system_fingerprint":"fp_1","x":null}`},
		{"not-json", `not json null`, `not json null`},
		{"array", `[null]`, `[null]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(normalizeChunk([]byte(tt.in))); got != tt.want {
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
		{"chat-fingerprint-added", `{"id":"x","usage":null}`, true, `{"id":"x","system_fingerprint":null}`},
		{"chat-fingerprint-null-kept", `{"id":"x","system_fingerprint":null}`, true, `{"id":"x","system_fingerprint":null}`},
		{"chat-leading-space", "  {\"id\":\"x\",\"system_fingerprint\":\"fp\"}", true, `{"id":"x","system_fingerprint":"fp"}`},
		{"chat-empty", `{}`, true, `{"system_fingerprint":null}`},
		{"chat-only-null-usage", ` {"usage":null} `, true, `{"system_fingerprint":null}`},
		{"embeddings-untouched", `{"object":"list","data":[]}`, false, `{"object":"list","data":[]}`},
		{"not-json", `oops`, true, `oops`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(normalizeBody([]byte(tt.in), tt.chat)); got != tt.want {
				t.Errorf("normalizeBody(%s, %v) = %s, want %s", tt.in, tt.chat, got, tt.want)
			}
		})
	}
}
