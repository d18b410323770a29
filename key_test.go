package keygate_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate"
)

func TestHashSecret(t *testing.T) {
	tests := []struct{ in, want string }{
		// FIPS 180-2 test vectors.
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		// Longer than the stack buffer HashSecret copies short secrets into.
		{strings.Repeat("a", 1000), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"},
	}
	for _, tt := range tests {
		if got := keygate.HashSecret(tt.in); got != tt.want {
			t.Errorf("HashSecret(%.10q…) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
