package keygate_test

import (
	"testing"

	"github.com/keygate/keygate"
)

func TestMicrosFromUSDText(t *testing.T) {
	tests := []struct {
		in     string
		want   keygate.Micros
		wantOK bool
	}{
		{"0.000249", 249, true},
		{"0.00012", 120, true},
		{"2.49e-4", 249, true},
		{"0.0000001", 1, true},
		{"0", 0, true},
		{"1", 1_000_000, true},
		{"-0.1", 0, false},
		{"null", 0, false},
		{"1e30", 0, false},
	}
	for _, tt := range tests {
		got, ok := keygate.MicrosFromUSDText(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("MicrosFromUSDText(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
