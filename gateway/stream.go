package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// relay passes a server-sent event stream to the client event by event,
// flushing each (DESIGN "What is rewritten in a stream"): framing is
// re-emitted canonically ("data: …\n\n"), comments stay comments, the null
// members the SDK rejects are dropped (normalize), and a usage chunk the
// client did not ask for is metered, not forwarded. The charge settles
// before the final "data: [DONE]" is written.
//
// Endings: [DONE], or the end of the body after a finish_reason (then
// [DONE] is added), is a finished generation. An error event from the
// upstream, a cut or an idle timeout is answered with one error event and
// no [DONE], charged for what was produced. A client that goes away
// cancels the upstream and is charged for what was produced by then
// (docs/gateway.md "Client disconnect").
func (c *call) relay(ctx context.Context, events *sseReader, cancel context.CancelCauseFunc) error {
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx in front must not buffer either
	c.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(c.w)
	rc.Flush()
	emit := func(b []byte) bool {
		_, err := c.w.Write(b)
		if err == nil {
			err = rc.Flush()
		}
		return err == nil
	}
	var buf []byte
	finished := false
	for {
		ev, err := events.next()
		if err != nil {
			switch {
			case c.r.Context().Err() != nil:
				return c.gone()
			case errors.Is(err, io.EOF) && finished:
				return c.finish(emit)
			case errors.Is(context.Cause(ctx), errTimeout):
				return c.fail(emit, http.StatusGatewayTimeout, "The upstream of this model stopped sending")
			}
			return c.fail(emit, http.StatusBadGateway, "The upstream of this model ended the stream early")
		}
		buf = buf[:0]
		for _, cm := range ev.comments {
			buf = append(buf, ':')
			buf = append(buf, cm...)
			buf = append(buf, '\n')
		}
		if ev.hasData {
			if string(ev.data) == "[DONE]" {
				return c.finish(emit)
			}
			data, forward, isErr := c.chunk(ev.data)
			if isErr {
				buf = appendData(buf, data)
				c.gen.FinishReason = "error"
				c.settleProduced()
				emit(buf)
				return nil
			}
			if c.gen.FinishReason != "" {
				finished = true
			}
			if forward {
				buf = appendData(buf, data)
			} else if len(ev.comments) == 0 {
				continue
			} else {
				buf = append(buf, '\n')
			}
		} else {
			buf = append(buf, '\n')
		}
		if !emit(buf) {
			cancel(context.Canceled)
			return c.gone()
		}
	}
}

// chunk reads one data payload: its id, finish reason, produced text and
// usage. It returns the payload to forward (normalized), whether to
// forward it, and whether it is an error event.
func (c *call) chunk(data []byte) (out []byte, forward, isErr bool) {
	var a answer
	if json.Unmarshal(data, &a) != nil {
		return data, true, false // not ours to judge: passed on as it is
	}
	if c.gen.ID == "" {
		c.gen.ID = a.ID
	}
	if len(a.Error) > 0 && string(a.Error) != "null" {
		return normalize(data), true, true
	}
	c.meter.outBytes += a.outputBytes()
	if f := a.finishReason(); f != "" {
		c.gen.FinishReason = f
	}
	if a.Usage != nil {
		c.meter.usage = a.Usage // the last one: usage is read once per generation, never summed
		if c.req.usageAdded && len(a.Choices) == 0 {
			return nil, false, false
		}
	}
	return normalize(data), true, false
}

// appendData appends one canonical event. A JSON payload split over data
// lines is joined on one line: a newline in valid JSON is whitespace.
func appendData(buf, data []byte) []byte {
	buf = append(buf, "data: "...)
	if bytes.IndexByte(data, '\n') >= 0 {
		if json.Valid(data) {
			data = bytes.ReplaceAll(data, []byte("\n"), []byte(" "))
		} else {
			data = bytes.ReplaceAll(data, []byte("\n"), []byte("\ndata: "))
		}
	}
	buf = append(buf, data...)
	return append(buf, "\n\n"...)
}

// finish settles a finished stream, then ends it with one [DONE].
func (c *call) finish(emit func([]byte) bool) error {
	if err := c.settle(); err != nil {
		emit(errUncharged)
		return nil
	}
	emit(done)
	return nil
}

// fail ends a broken stream with one error event, no [DONE], charged for
// what was produced.
func (c *call) fail(emit func([]byte) bool, status int, msg string) error {
	c.gen.FinishReason = "error"
	c.settleProduced()
	e, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": msg}})
	emit(appendData(nil, e))
	return nil
}

var (
	done = []byte("data: [DONE]\n\n")
	// errUncharged ends a stream whose charge could not be recorded: the
	// client must not take an unpaid answer as complete.
	errUncharged = []byte(`data: {"error":{"code":503,"message":"The charge for this answer could not be recorded"}}` + "\n\n")
)

// gone settles for a client that went away mid-stream.
func (c *call) gone() error {
	c.gen.Cancelled = true
	c.settleProduced()
	return nil
}

// settleProduced charges an unfinished generation for what the upstream
// produced; nothing produced, nothing charged (the reservation is
// released by the caller).
func (c *call) settleProduced() {
	if c.meter.produced() {
		c.settle()
	}
}
