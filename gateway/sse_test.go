package gateway

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestSSEReader(t *testing.T) {
	type ev struct {
		Comments []string
		Data     string
	}
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"lf", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{{Data: `{"a":1}`}, {Data: "[DONE]"}}},
		{"crlf", "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n", []ev{{Data: `{"a":1}`}, {Data: "[DONE]"}}},
		{"cr", "data: x\r\rdata: y\r\r", []ev{{Data: "x"}, {Data: "y"}}},
		{"no-space", "data:{\"a\":1}\n\n", []ev{{Data: `{"a":1}`}}},
		{"two-spaces-keep-one", "data:  x\n\n", []ev{{Data: " x"}}},
		{"multi-line", "data: {\"a\":\ndata: 1}\n\n", []ev{{Data: "{\"a\":\n1}"}}},
		{"comment", ": OPENROUTER PROCESSING\n\ndata: x\n\n", []ev{{Comments: []string{" OPENROUTER PROCESSING"}}, {Data: "x"}}},
		{"other-fields-dropped", "event: message\nid: 3\nretry: 10\ndata: x\n\n", []ev{{Data: "x"}}},
		{"unterminated-dropped", "data: x\n\ndata: y", []ev{{Data: "x"}}},
		{"blank-lines-between", "\n\n\ndata: x\n\n\n", []ev{{Data: "x"}}},
		{"empty-data", "data:\n\n", []ev{{Data: ""}}},
		{"emoji", "data: \xf0\x9f\x98\x80\n\n", []ev{{Data: "😀"}}},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one-byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":     func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				r := newSSEReader(mk(tt.in))
				var got []ev
				for {
					e, err := r.next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					var g ev
					for _, c := range e.comments {
						g.Comments = append(g.Comments, string(c))
					}
					g.Data = string(e.data)
					got = append(got, g)
				}
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("events of %q (-want +got):\n%s", tt.in, d)
				}
			})
		}
	}
}

func TestSSEReaderCapsEvents(t *testing.T) {
	for name, in := range map[string]string{
		"endless-line":  "data: " + strings.Repeat("x", maxEvent+1),
		"endless-event": strings.Repeat("data: "+strings.Repeat("x", 1<<20)+"\n", 9),
	} {
		if _, err := newSSEReader(strings.NewReader(in)).next(); !errors.Is(err, errEventTooLarge) {
			t.Errorf("%s: next() = %v, want errEventTooLarge", name, err)
		}
	}
}
