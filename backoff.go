package keygate

import (
	"strings"
	"sync"
	"time"
)

// Per-account back-off of sign-ins (NIST SP 800-63B §5.2.2): after
// freeLoginFailures consecutive failures for one email, each further
// failure makes the account wait before the next attempt is even checked,
// twice as long each time, up to maxLoginBackoff. A correct password during
// the wait is refused too (otherwise the wait would not slow guessing); a
// success clears the count. Failures are counted per email as typed, lower
// case, whether or not an account has it, so the back-off tells nothing
// about which emails exist. The table lives in the process: replicas
// each keep their own.
const (
	freeLoginFailures = 5
	firstLoginBackoff = time.Second
	maxLoginBackoff   = 5 * time.Minute
	// loginFailureMemory is how long a failure is remembered: an email
	// with no failure for this long starts again from zero.
	loginFailureMemory = 15 * time.Minute
	// maxLoginBackoffEntries bounds the table. When it is full, entries
	// whose failures have lapsed go first; if that frees nothing, the table
	// is emptied: that takes more distinct emails than this within
	// loginFailureMemory, and memory stays bounded.
	maxLoginBackoffEntries = 1 << 16
)

type loginBackoff struct {
	mu      sync.Mutex
	entries map[string]*loginFailures
}

type loginFailures struct {
	count int
	last  time.Time // the latest failure
	until time.Time // no attempt is checked before this
}

func newLoginBackoff() *loginBackoff {
	return &loginBackoff{entries: make(map[string]*loginFailures)}
}

// backoffKey is the table's key of an email: a hash, so that the table
// holds neither emails nor a large form field.
func backoffKey(email string) string {
	return HashSecret(strings.ToLower(strings.TrimSpace(email)))
}

// wait returns how long email must still wait at now, 0 if it may try.
func (b *loginBackoff) wait(email string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.entries[backoffKey(email)]
	if f == nil || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

// failed records a failed attempt for email at now.
func (b *loginBackoff) failed(email string, now time.Time) {
	key := backoffKey(email)
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.entries[key]
	if f != nil && now.Sub(f.last) >= loginFailureMemory {
		f = nil
	}
	if f == nil {
		if len(b.entries) >= maxLoginBackoffEntries {
			b.sweep(now)
		}
		f = &loginFailures{}
		b.entries[key] = f
	}
	f.count++
	f.last = now
	if n := f.count - freeLoginFailures; n > 0 {
		d := maxLoginBackoff
		if n <= 16 {
			d = min(firstLoginBackoff<<(n-1), maxLoginBackoff)
		}
		f.until = now.Add(d)
	}
}

// succeeded clears the failures of email.
func (b *loginBackoff) succeeded(email string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, backoffKey(email))
}

// sweep drops the entries whose failures have lapsed, or all of them if
// none has. Called with b.mu held.
func (b *loginBackoff) sweep(now time.Time) {
	for k, f := range b.entries {
		if now.Sub(f.last) >= loginFailureMemory && !now.Before(f.until) {
			delete(b.entries, k)
		}
	}
	if len(b.entries) >= maxLoginBackoffEntries {
		clear(b.entries)
	}
}
