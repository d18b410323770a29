package keygate

import (
	"context"
	"runtime"
	"time"

	"github.com/alexedwards/argon2id"
)

// PasswordHasher hashes and checks login passwords.
type PasswordHasher struct {
	Params *argon2id.Params
}

// DefaultPasswordHasher uses argon2id with 19 MiB of memory, 2 passes and
// one lane: OWASP's minimum recommendation for argon2id, cheap enough for a
// 2-core server to answer logins under load.
var DefaultPasswordHasher = PasswordHasher{Params: &argon2id.Params{
	Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32,
}}

// Hash returns the PHC-format argon2id hash of password.
func (h PasswordHasher) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, h.Params)
}

// Check reports whether password matches hash, in constant time.
func (h PasswordHasher) Check(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// MaxHashWait is how long a password hash waits for a free slot before its
// request is refused as EUNAVAILABLE.
const MaxHashWait = 5 * time.Second

// errBusy answers a request whose password hash found no free slot within
// MaxHashWait. Its Retry-After is short: slots free up every few
// milliseconds once the burst has passed.
var errBusy = &Error{Code: EUNAVAILABLE, Message: "The server is busy; retry after the time in Retry-After", RetryAfter: time.Second}

// workGate bounds how many expensive operations run at once across the
// process, whoever asks: a per-address limit alone lets many addresses, or
// one address with a large burst, start them all at the same time. Callers
// beyond the bound queue for at most wait.
type workGate struct {
	slots chan struct{}
	wait  time.Duration
}

// newHashGate bounds password hashes to twice the CPUs Go may use: each
// argon2id derivation holds DefaultPasswordHasher's 19 MiB and one CPU, so
// more at once only add memory, not throughput.
func newHashGate() *workGate {
	return &workGate{slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), wait: MaxHashWait}
}

// do runs f when a slot is free. It returns errBusy if none frees up within
// the gate's wait, and ctx's error if ctx ends first; f does not run then.
func (g *workGate) do(ctx context.Context, f func()) error {
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.slots }()
	f()
	return nil
}

// hashPassword is s.hasher.Hash through the process-wide hash gate.
func (s *Service) hashPassword(ctx context.Context, password string) (hash string, err error) {
	if gateErr := s.hashes.do(ctx, func() { hash, err = s.hasher.Hash(password) }); gateErr != nil {
		return "", gateErr
	}
	return hash, err
}

// checkPasswordHash is s.hasher.Check through the process-wide hash gate.
func (s *Service) checkPasswordHash(ctx context.Context, password, hash string) (ok bool, err error) {
	err = s.hashes.do(ctx, func() { ok = s.hasher.Check(password, hash) })
	return ok, err
}
