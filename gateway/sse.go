package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxEvent caps the bytes of one event's data (and of one line): an
// upstream that never ends a line cannot grow keygate's memory without end.
const maxEvent = 8 << 20

var errEventTooLarge = errors.New("server-sent event over 8 MiB")

// event is one server-sent event as the upstream framed it: its data
// lines joined with "\n", and the comment lines that came before its end.
type event struct {
	comments [][]byte // each without its leading ':'
	data     []byte
	hasData  bool
}

// sseReader parses a text/event-stream (WHATWG HTML "Server-sent events",
// §9.2.5 "Parsing an event stream"): lines end in CRLF, LF or CR; a blank
// line dispatches the event; "data:" values are joined with "\n" (one
// leading space after the colon is dropped); lines starting with ':' are
// comments; other fields (event, id, retry) are not used by chat
// completion streams and are dropped. Any read boundary is fine.
type sseReader struct {
	r      *bufio.Reader
	skipLF bool // the previous line ended with CR: a following LF is part of it
	ev     event
	line   []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next event that has data or comments. At the end of
// the stream it returns io.EOF; an event not ended by a blank line is
// dropped, as the specification says.
func (s *sseReader) next() (event, error) {
	s.ev = event{}
	for {
		line, err := s.readLine()
		if err != nil {
			return event{}, err
		}
		if len(line) == 0 {
			if s.ev.hasData || len(s.ev.comments) > 0 {
				return s.ev, nil
			}
			continue
		}
		if line[0] == ':' {
			s.ev.comments = append(s.ev.comments, bytes.Clone(line[1:]))
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		if string(field) != "data" {
			continue
		}
		if s.ev.hasData {
			s.ev.data = append(s.ev.data, '\n')
		}
		s.ev.data = append(s.ev.data, value...)
		s.ev.hasData = true
		if len(s.ev.data) > maxEvent {
			return event{}, errEventTooLarge
		}
	}
}

// readLine returns one line without its ending. The slice is valid until
// the next call.
func (s *sseReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(s.line) > 0 {
				// A last line without an ending cannot end an event; the
				// caller sees EOF on the next read.
				return s.line, nil
			}
			return nil, err
		}
		if s.skipLF {
			s.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			s.skipLF = true
			return s.line, nil
		case '\n':
			return s.line, nil
		}
		if len(s.line) == maxEvent {
			return nil, errEventTooLarge
		}
		s.line = append(s.line, b)
	}
}
