package gateway

import "testing"

// TestJSONSize: the prompt estimate counts a body's compact length,
// however the client spaced it; whitespace inside strings counts.
func TestJSONSize(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`{"a":1}`, 7},
		{"{ \"a\" :\t1 ,\r\n \"b\": [ 1, 2 ] }", 17},
		{`{"a":"x y"}`, 11},
		{`{"a":"say \"hi there\" \\"}`, 27},
		{`{"a":"\\","b" : 2}`, 16},
		{``, 0},
	}
	for _, tt := range tests {
		if got := jsonSize([]byte(tt.body)); got != tt.want {
			t.Errorf("jsonSize(%q) = %d, want %d", tt.body, got, tt.want)
		}
	}
}
