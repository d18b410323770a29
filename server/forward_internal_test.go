package server

import (
	"testing"

	"github.com/keygate/keygate"
)

func TestUSDText(t *testing.T) {
	for m, want := range map[keygate.Micros]string{
		0:              "0.000000",
		1:              "0.000001",
		999_999:        "0.999999",
		1_000_000:      "1.000000",
		4_999_750:      "4.999750",
		12_000_000_010: "12000.000010",
		-1_500_000:     "-1.500000",
	} {
		if got := usdText(m); got != want {
			t.Errorf("usdText(%d) = %q, want %q", m, got, want)
		}
	}
}
