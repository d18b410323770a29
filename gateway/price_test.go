package gateway

import (
	"math"
	"testing"

	"github.com/keygate/keygate"
)

func TestParsePrice(t *testing.T) {
	tests := []struct {
		in      string
		want    Price
		wantErr bool
	}{
		{"0.50", 500_000, false},
		{"1.5", 1_500_000, false},
		{"0.07", 70_000, false},
		{"0", 0, false},
		{"2", 2_000_000, false},
		{"1e-3", 1_000, false},
		{"0.000001", 1, false},
		{"1000000", 1e12, false},
		{"0.0000001", 0, true},
		{"-1", 0, true},
		{"abc", 0, true},
		{"1000000.000001", 0, true},
	}
	for _, tt := range tests {
		got, err := ParsePrice(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParsePrice(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPerTokenUSD(t *testing.T) {
	tests := []struct {
		p    Price
		want string
	}{
		{500_000, "0.0000005"},
		{1_500_000, "0.0000015"},
		{0, "0"},
		{1, "0.000000000001"},
		{2_000_000_000_000, "2"},
		{70_000, "0.00000007"},
	}
	for _, tt := range tests {
		if got := tt.p.PerTokenUSD(); got != tt.want {
			t.Errorf("Price(%d).PerTokenUSD() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestCost(t *testing.T) {
	tests := []struct {
		name               string
		prompt, completion int64
		pPrice, cPrice     Price
		want               keygate.Micros
	}{
		{"hundred-at-0.07", 100, 0, 70_000, 0, 7},
		{"reasoning-inside-completion", 17, 482, 500_000, 1_500_000, 732},
		{"ten-twenty-cheap", 10, 20, 500_000, 1_500_000, 35},
		{"one-pico-rounds-up", 1, 0, 1, 0, 1},
		{"zeros", 0, 0, 500_000, 1_500_000, 0},
		{"negative-is-zero", -5, 0, 500_000, 0, 0},
		{"embeddings-8", 8, 0, 500_000, 1_500_000, 4},
		{"saturates", math.MaxInt64, math.MaxInt64, 1e12, 1e12, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cost(tt.prompt, tt.completion, tt.pPrice, tt.cPrice); got != tt.want {
				t.Errorf("Cost(%d, %d, %d, %d) = %d, want %d", tt.prompt, tt.completion, tt.pPrice, tt.cPrice, got, tt.want)
			}
		})
	}
}
