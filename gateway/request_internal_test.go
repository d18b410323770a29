package gateway

import (
	"strings"
	"testing"
)

// TestReadBodyPresize: a body is read whole whatever its Content-Length
// says, and a client that claims more than presizeMax bytes does not get
// them allocated before they arrive.
func TestReadBodyPresize(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		length  int64
		maxCap  int
		wantLen int
	}{
		{"said", strings.Repeat("x", 1000), 1000, 1000 + 512, 1000},
		{"not-said", strings.Repeat("x", 1000), -1, 1 << 12, 1000},
		{"claims-1MiB-sends-nothing", "", 1 << 20, 1 << 12, 0},
		{"claims-less-than-sent", strings.Repeat("x", 3000), 10, 1 << 13, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := readBody(strings.NewReader(tt.body), tt.length)
			if err != nil || len(b) != tt.wantLen || cap(b) > tt.maxCap {
				t.Errorf("readBody = %d bytes (cap %d), %v; want %d bytes, cap at most %d", len(b), cap(b), err, tt.wantLen, tt.maxCap)
			}
		})
	}
}
