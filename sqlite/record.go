package sqlite

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/keygate/keygate"
)

// The payload of a charge journal record: a version byte, then every
// member of keygate.Charge in order, integers as varints, strings and
// lists after their length, times as Unix microseconds (UTC, the
// database's precision), a pointer
// after a byte saying whether it is set. TestRecordRoundTrip fills every
// member of Charge and of the structs in it, so a member added to them
// and not here fails it. Version 1 (before UpstreamID and NewID) is
// still read: a journal left by the release before.

const recordVersion = 2

var errRecord = errors.New("a journal record that does not decode")

// encodeCharge appends c's payload to b.
func encodeCharge(b []byte, c *keygate.Charge) []byte {
	b = append(b, recordVersion)
	g := c.Generation
	b = appendStrings(b, g.ID, g.KeyHash, g.UserID, g.WorkspaceID)
	b = binary.AppendUvarint(b, boolByte(g.AppID != nil))
	if g.AppID != nil {
		b = binary.AppendVarint(b, *g.AppID)
	}
	b = appendStrings(b, g.Model, g.UpstreamModel, g.Provider, g.Endpoint)
	b = appendInts(b, g.PromptTokens, g.CompletionTokens, g.ReasoningTokens, g.CachedTokens,
		int64(g.Cost), int64(g.UpstreamInferenceCost))
	b = binary.AppendUvarint(b, boolByte(g.BYOK)|boolByte(g.CostEstimated)<<1|boolByte(g.Streamed)<<2|boolByte(g.Cancelled)<<3)
	b = appendStrings(b, g.FinishReason)
	b = appendInts(b, int64(g.Latency), int64(g.GenerationTime), g.CreatedAt.UnixMicro())
	b = appendStrings(b, g.UpstreamID)

	b = binary.AppendUvarint(b, uint64(len(c.Counters)))
	for _, u := range c.Counters {
		b = appendStrings(b, u.KeyHash, u.Period)
		b = appendInts(b, u.Start.UnixMicro(), int64(u.Micros), int64(u.BYOKMicros))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Leases)))
	for _, l := range c.Leases {
		b = appendInts(b, l.ID, int64(l.Micros))
	}
	b = binary.AppendUvarint(b, boolByte(c.AppDay != nil))
	if a := c.AppDay; a != nil {
		b = appendInts(b, a.AppID, a.Day.UnixMicro())
		b = appendStrings(b, a.Model)
		b = appendInts(b, a.Requests, a.PromptTokens, a.CompletionTokens)
	}
	b = binary.AppendUvarint(b, boolByte(c.UserDay != nil))
	if u := c.UserDay; u != nil {
		b = appendStrings(b, u.UserID)
		b = appendInts(b, u.Day.UnixMicro())
		b = appendStrings(b, u.WorkspaceID, u.KeyHash, u.Model, u.Provider)
		b = appendInts(b, u.Requests, u.PromptTokens, u.CompletionTokens, u.ReasoningTokens,
			int64(u.Micros), int64(u.BYOKMicros))
	}
	b = binary.AppendUvarint(b, boolByte(c.NewID))
	return binary.AppendVarint(b, int64(c.InFlight))
}

// decodeCharge decodes a payload of encodeCharge: errRecord for one that
// is not whole, or not of this version.
func decodeCharge(p []byte) (*keygate.Charge, error) {
	d := decoder{p: p}
	version := d.uint()
	if version != 1 && version != recordVersion {
		return nil, errRecord
	}
	g := &keygate.Generation{ID: d.string(), KeyHash: d.string(), UserID: d.string(), WorkspaceID: d.string()}
	if d.uint() == 1 {
		id := d.int()
		g.AppID = &id
	}
	g.Model, g.UpstreamModel, g.Provider, g.Endpoint = d.string(), d.string(), d.string(), d.string()
	g.PromptTokens, g.CompletionTokens, g.ReasoningTokens, g.CachedTokens = d.int(), d.int(), d.int(), d.int()
	g.Cost, g.UpstreamInferenceCost = keygate.Micros(d.int()), keygate.Micros(d.int())
	flags := d.uint()
	g.BYOK, g.CostEstimated, g.Streamed, g.Cancelled = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	g.FinishReason = d.string()
	g.Latency, g.GenerationTime, g.CreatedAt = time.Duration(d.int()), time.Duration(d.int()), d.time()
	if version >= 2 {
		g.UpstreamID = d.string()
	}
	c := &keygate.Charge{Generation: g}

	if n := d.count(); n > 0 {
		c.Counters = make([]keygate.UsageCounter, n)
		for i := range c.Counters {
			c.Counters[i] = keygate.UsageCounter{KeyHash: d.string(), Period: d.string(), Start: d.time(),
				Micros: keygate.Micros(d.int()), BYOKMicros: keygate.Micros(d.int())}
		}
	}
	if n := d.count(); n > 0 {
		c.Leases = make([]keygate.LeaseDraw, n)
		for i := range c.Leases {
			c.Leases[i] = keygate.LeaseDraw{ID: d.int(), Micros: keygate.Micros(d.int())}
		}
	}
	if d.uint() == 1 {
		c.AppDay = &keygate.AppDay{AppID: d.int(), Day: d.time(), Model: d.string(),
			Requests: d.int(), PromptTokens: d.int(), CompletionTokens: d.int()}
	}
	if d.uint() == 1 {
		c.UserDay = &keygate.UserDay{UserID: d.string(), Day: d.time(), WorkspaceID: d.string(), KeyHash: d.string(),
			Model: d.string(), Provider: d.string(), Requests: d.int(), PromptTokens: d.int(),
			CompletionTokens: d.int(), ReasoningTokens: d.int(), Micros: keygate.Micros(d.int()), BYOKMicros: keygate.Micros(d.int())}
	}
	if version >= 2 {
		c.NewID = d.uint() == 1
	}
	c.InFlight = int(d.int())
	if d.err || len(d.p) != 0 {
		return nil, errRecord
	}
	return c, nil
}

func boolByte(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

func appendStrings(b []byte, ss ...string) []byte {
	for _, s := range ss {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func appendInts(b []byte, vs ...int64) []byte {
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

// decoder reads a payload; past its end or on a malformed varint it sets
// err and reads zeros.
type decoder struct {
	p   []byte
	err bool
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.err, d.p = true, nil
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.err, d.p = true, nil
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uint()
	if n > uint64(len(d.p)) {
		d.err, d.p = true, nil
		return ""
	}
	s := string(d.p[:n])
	d.p = d.p[n:]
	return s
}

// count reads a list's length, which cannot exceed the bytes left.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.p)) {
		d.err, d.p = true, nil
		return 0
	}
	return int(n)
}

func (d *decoder) time() time.Time { return time.UnixMicro(d.int()).UTC() }
