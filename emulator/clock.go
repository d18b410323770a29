package emulator

import (
	"sync/atomic"
	"time"
)

// Clock is the emulator's time: the real time plus an offset that only
// grows. The service reads it (keygate.WithClock), so advancing it moves
// every usage period, code and key expiry and session at once.
type Clock struct {
	offset atomic.Int64 // nanoseconds
}

// Now returns the real time plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(c.Offset()) }

// Offset returns how far ahead of the real time the clock is.
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// Advance moves the clock d ahead; d must not be negative.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// reset puts the clock back on the real time.
func (c *Clock) reset() { c.offset.Store(0) }
