package gateway

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"untouched-without-null", `{"id":"x","choices":[{"delta":{"content":"hi"}}]}`, `{"id":"x","choices":[{"delta":{"content":"hi"}}]}`},
		{"usage-null", `{"id":"x","usage":null,"choices":[]}`, `{"id":"x","choices":[]}`},
		{"fingerprint-null", `{"system_fingerprint":null,"id":"x"}`, `{"id":"x"}`},
		{"both", `{"id":"x", "system_fingerprint": null, "usage": null}`, `{"id":"x"}`},
		{"error-code-null", `{"error":{"code":null,"message":"boom"}}`, `{"error":{"message":"boom"}}`},
		{"other-nulls-kept", `{"id":"x","choices":[{"finish_reason":null,"delta":{"content":"a null"}}],"usage":null}`, `{"id":"x","choices":[{"finish_reason":null,"delta":{"content":"a null"}}]}`},
		{"usage-object-kept", `{"usage":{"prompt_tokens":1},"x":null}`, `{"usage":{"prompt_tokens":1},"x":null}`},
		{"not-json", `not json null`, `not json null`},
		{"array", `[null]`, `[null]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(normalize([]byte(tt.in))); got != tt.want {
				t.Errorf("normalize(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
