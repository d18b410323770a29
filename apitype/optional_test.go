package apitype_test

import (
	"encoding/json"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/keygate/keygate/apitype"
)

// TestOptional: the three states of a member survive a round trip through
// both JSON packages keygate uses (the client's encoding/json, the
// server's go-json-experiment/json).
func TestOptional(t *testing.T) {
	tests := []struct {
		name string
		in   apitype.UpdateKeyRequest
		body string
	}{
		{"absent", apitype.UpdateKeyRequest{}, `{}`},
		{"null", apitype.UpdateKeyRequest{Limit: apitype.Null[float64]()}, `{"limit":null}`},
		{"value", apitype.UpdateKeyRequest{Limit: apitype.Some(2.5)}, `{"limit":2.5}`},
		{"zero-value", apitype.UpdateKeyRequest{Limit: apitype.Some(0.0)}, `{"limit":0}`},
	}
	codecs := []struct {
		name      string
		marshal   func(any) ([]byte, error)
		unmarshal func([]byte, any) error
	}{
		{"encoding/json", json.Marshal, json.Unmarshal},
		{"json/v2", func(v any) ([]byte, error) { return jsonv2.Marshal(v) }, func(b []byte, v any) error { return jsonv2.Unmarshal(b, v) }},
	}
	for _, c := range codecs {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				b, err := c.marshal(tt.in)
				if err != nil || string(b) != tt.body {
					t.Fatalf("Marshal(%+v) = %s, %v; want %s", tt.in, b, err, tt.body)
				}
				var got apitype.UpdateKeyRequest
				if err := c.unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				l := got.Limit
				if l.Set != tt.in.Limit.Set || l.IsNull() != tt.in.Limit.IsNull() || (l.Value == nil) != (tt.in.Limit.Value == nil) ||
					l.Value != nil && *l.Value != *tt.in.Limit.Value {
					t.Errorf("Unmarshal(%s).Limit = %+v, want %+v", b, l, tt.in.Limit)
				}
			})
		}
	}
}
