package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// relay passes a server-sent event stream to the client event by event,
// flushing each; the 200 status goes with the first event. Framing is
// re-emitted canonically ("data: …\n\n"), comments stay comments, the null
// members the SDK rejects are dropped (normalizeChunk), and a usage chunk
// the client did not ask for is metered, not forwarded. The charge settles
// before the final "data: [DONE]" is written.
//
// Endings: [DONE], or the end of the body (or any failure to read it) after
// a finish_reason, is a finished generation, and [DONE] is added when the
// upstream did not send it. An error event from the
// upstream, a cut or an idle timeout is answered with one error event and
// no [DONE], charged for what was produced. A client that goes away
// cancels the upstream and is charged for what was produced by then
// (docs/gateway.md "Client disconnect").
func (c *call) relay(ctx context.Context, events *sseReader, cancel context.CancelCauseFunc) error {
	rc := http.NewResponseController(c.w)
	emit := func(b []byte) bool {
		if !c.started {
			// The status is sent with the first event, so that an error
			// before it is still a JSON error with its own status.
			c.started = true
			h := c.w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no") // nginx in front must not buffer either
			c.w.WriteHeader(http.StatusOK)
		}
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
			case finished:
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
			data, forward, upErr := c.chunk(ev.data)
			if upErr != nil {
				if len(buf) > 0 {
					emit(buf) // the comments before it
				}
				return c.fail(emit, upErr.status, upErr.message)
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

// streamError is an error event of the upstream's stream.
type streamError struct {
	status  int
	message string
}

// chunk reads one data payload: its id, finish reason, produced text and
// usage. It returns the payload to forward (normalized) and whether to
// forward it, or the upstream's error event.
func (c *call) chunk(data []byte) (out []byte, forward bool, upErr *streamError) {
	var a answer
	if readAnswer(data, &a) != nil {
		return data, true, nil // not ours to judge: passed on as it is
	}
	if c.gen.ID == "" {
		c.gen.ID, c.gen.UpstreamID = a.ID, a.ID
	}
	if c.model == "" {
		c.model, c.created = a.Model, int64(a.Created)
	}
	if len(a.Error) > 0 && string(a.Error) != "null" {
		return nil, false, c.streamError(a.Error)
	}
	c.meter.outBytes += a.outputBytes()
	if f := a.finishReason(); f != "" {
		c.gen.FinishReason = f
	}
	if a.Usage != nil {
		c.meter.usage = a.Usage // the last one: usage is read once per generation, never summed
		if c.req.usageAdded && len(a.Choices) == 0 {
			return nil, false, nil
		}
	}
	return normalizeChunk(data), true, nil
}

// streamError reads an upstream error event: its code (or
// metadata.status; 502 when neither is a number) and its message,
// credential-like strings removed.
func (c *call) streamError(raw []byte) *streamError {
	var e struct {
		Code     json.RawMessage `json:"code"`
		Message  string          `json:"message"`
		Metadata struct {
			Status int `json:"status"`
		} `json:"metadata"`
	}
	json.Unmarshal(raw, &e)
	se := &streamError{status: http.StatusBadGateway, message: "The upstream of this model failed mid-stream"}
	var code int
	if json.Unmarshal(e.Code, &code) == nil && code >= 400 && code <= 599 {
		se.status = code
	} else if s := e.Metadata.Status; s >= 400 && s <= 599 {
		se.status = s
	}
	if e.Message != "" {
		se.message = "Upstream: " + redact(e.Message, []string{c.req.model.upstream.apiKey})
	}
	return se
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
// what was produced. The event is a whole chunk of the stream (id, model,
// created, no choices) with error {code, message}, the shape the official
// SDK's stream chunk schema takes.
func (c *call) fail(emit func([]byte) bool, status int, msg string) error {
	c.gen.FinishReason = "error"
	c.settleProduced()
	if !c.started {
		return gatewayError(status, "%s", msg)
	}
	if c.model == "" {
		c.model = c.req.name
	}
	e, _ := json.Marshal(errorChunk{
		ID: c.gen.ID, Object: "chat.completion.chunk", Created: c.created, Model: c.model, Choices: []struct{}{},
		Error: errorBody{Code: status, Message: msg},
	})
	emit(appendData(nil, e))
	return nil
}

// errorChunk is the stream chunk that carries an error.
type errorChunk struct {
	ID      string     `json:"id"`
	Object  string     `json:"object"`
	Created int64      `json:"created"`
	Model   string     `json:"model"`
	Choices []struct{} `json:"choices"`
	Error   errorBody  `json:"error"`
}

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
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
