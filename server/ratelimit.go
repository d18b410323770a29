package server

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/keygate/keygate"
)

// Rate limiting of the endpoints that accept guesses: the code request
// (POST /api/v1/auth/keys/code), the exchange (POST /api/v1/auth/keys) and
// the sign-in form (POST /login). Each client address has a token bucket
// of Config.RateLimit tokens a second holding at most ten seconds' worth
// (burst 10×N); the sign-in form has buckets of its own, refilled at a
// tenth of the rate and holding loginBurst tokens, since each attempt
// costs a password hash and a person types a few at most. A request
// that finds the bucket empty is answered 429 with Retry-After (RFC 6585
// §4, RFC 9110 §10.2.3) and never reaches the handler. The client address
// is Server.clientIP's, which believes X-Forwarded-For only from
// Config.TrustedProxies. Password hashes are also bounded across all
// addresses, by the service (keygate.MaxHashWait).

const (
	// burstSeconds is how many seconds of the rate a bucket holds.
	burstSeconds = 10
	// maxLimitedClients bounds the table of buckets. Buckets idle for
	// longer than it takes to refill are dropped first; if the table is
	// still full, it is emptied: that takes a flood from more addresses
	// than this within one refill period, which a per-address limit
	// cannot stop anyway, and memory stays bounded.
	maxLimitedClients = 1 << 16
	// loginBurst is the most sign-in attempts one address may send at
	// once, and loginRateShare the fraction of Config.RateLimit its
	// bucket refills at: a few mistyped passwords, not a flood of
	// password hashes.
	loginBurst     = 5
	loginRateShare = 0.1
	// ipv6PrefixBits groups IPv6 clients by their /64: one host usually
	// holds a whole /64 and could otherwise take a fresh bucket per address.
	ipv6PrefixBits = 64
)

// rateLimiter holds one token bucket per client address. The zero rate
// turns it off: a nil *rateLimiter lets everything through.
type rateLimiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration // a bucket idle this long is full again: forgetting it changes nothing
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newRateLimiter returns a limiter of perSecond requests a second per
// client address with a burst of burst, or of 10×perSecond (at least 1)
// when burst is 0, reading time from now. It returns nil, no limit, when
// perSecond <= 0.
func newRateLimiter(perSecond float64, burst int, now func() time.Time) *rateLimiter {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Min(math.Ceil(perSecond*burstSeconds), math.MaxInt32)))
	}
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &rateLimiter{
		limit:   rate.Limit(perSecond),
		burst:   burst,
		idle:    max(idle, time.Second),
		now:     now,
		buckets: make(map[string]*bucket),
	}
}

// allow takes a token from the bucket of ip. When there is none it
// returns false and how long until there will be one.
func (l *rateLimiter) allow(ip string) (bool, time.Duration) {
	now := l.now()
	key := clientKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxLimitedClients {
			clear(l.buckets)
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// sweep drops buckets idle for longer than l.idle, at most once per idle
// period, so its cost is spread over many requests.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.idle && len(l.buckets) < maxLimitedClients {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= l.idle {
			delete(l.buckets, k)
		}
	}
}

// size returns how many buckets are held.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey is the bucket of an address: the address itself for IPv4
// (also IPv4-mapped IPv6), its /64 for IPv6, and the string as given when
// it is not an IP address at all.
func clientKey(ip string) string {
	p := net.ParseIP(ip)
	if p == nil {
		return ip
	}
	if v4 := p.To4(); v4 != nil {
		return v4.String()
	}
	return p.Mask(net.CIDRMask(ipv6PrefixBits, 128)).String() + "/64"
}

// limited wraps h with the rate limit of l: over the limit, the answer is
// 429 with Retry-After in whole seconds (at least 1) and h is not called.
// The wrapped function returns its error like h, so API routes answer with
// the JSON error body and browser routes with an error page. The message
// names no address.
func (s *Server) limited(l *rateLimiter, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	if l == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ip := keygate.ClientIP(r.Context())
		if ip == "" {
			ip = s.clientIP(r)
		}
		if ok, wait := l.allow(ip); !ok {
			s.log.WarnContext(r.Context(), "rate limited", "method", r.Method, "path", r.URL.Path, "client_ip", ip)
			return &keygate.Error{Code: keygate.ERATELIMIT, Message: "Too many requests from your address; retry after the time in Retry-After", RetryAfter: wait}
		}
		return h(w, r)
	}
}
