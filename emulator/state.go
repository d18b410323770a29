package emulator

import (
	"context"
	"net/http"
	"sync"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/server"
)

// maxNext bounds the requests a one-time approve mode is queued for.
const maxNext = 1000

// approval is what the next GET /auth requests do: a queue of one-time
// choices, then the standing one.
type approval struct {
	mu       sync.Mutex
	standing choice
	queue    []choice
}

// choice is a mode and the user who approves in ModeAuto ("" is the dev
// user).
type choice struct {
	mode   Mode
	userID string
}

func (a *approval) reset(m Mode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.standing, a.queue = choice{mode: m}, nil
}

// next takes the choice for one GET /auth.
func (a *approval) next() choice {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) > 0 {
		c := a.queue[0]
		a.queue = a.queue[1:]
		return c
	}
	return a.standing
}

// autoConsent is server.Config.AutoConsent: the choice for this GET /auth.
func (e *Emulator) autoConsent(*http.Request) (server.AutoDecision, string) {
	c := e.approval.next()
	switch c.mode {
	case ModeAuto:
		if c.userID == "" {
			c.userID = e.devUserID
		}
		return server.AutoApprove, c.userID
	case ModeDeny:
		return server.AutoDeny, ""
	}
	return server.AutoAsk, ""
}

// Approve sets what GET /auth does: for the next `next` requests when next
// is positive, else from now on. In ModeAuto, the user of email approves
// ("" is DevEmail). Errors: EINVALID for a negative next, ENOTFOUND for an
// unknown email.
func (e *Emulator) Approve(ctx context.Context, mode Mode, next int, email string) error {
	if _, err := ParseMode("mode", string(mode)); err != nil {
		return err
	}
	if next < 0 || next > maxNext {
		return keygate.Errorf(keygate.EINVALID, "next must be 0 (from now on) or a number of requests up to %d", maxNext)
	}
	c := choice{mode: mode}
	if email != "" {
		svc, release, err := e.service()
		if err != nil {
			return err
		}
		u, err := svc.UserByEmail(ctx, email)
		release()
		if err != nil {
			return err
		}
		c.userID = u.ID
	}
	e.approval.mu.Lock()
	defer e.approval.mu.Unlock()
	if next == 0 {
		e.approval.standing, e.approval.queue = c, nil
		return nil
	}
	for range next {
		e.approval.queue = append(e.approval.queue, c)
	}
	return nil
}

// NewUser is a user the control API creates.
type NewUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// CreateUser creates a user (with its default workspace) who can sign in
// with password; "" makes one. Errors are keygate.Service.CreateUser's.
func (e *Emulator) CreateUser(ctx context.Context, email, password string) (*NewUser, error) {
	if password == "" {
		password = keygate.NewToken()[:24]
	}
	svc, release, err := e.service()
	if err != nil {
		return nil, err
	}
	defer release()
	u, err := svc.CreateUser(ctx, email, password)
	if err != nil {
		return nil, err
	}
	return &NewUser{ID: u.ID, Email: u.Email, Password: password}, nil
}

// KeyParams is a key for CreateKey: keygate.NewKeyParams for a user named
// by email, with the usage (USD) the key starts with.
type KeyParams struct {
	Email string // "" is DevEmail
	keygate.NewKeyParams
	Usage float64
}

// CreateKey creates a key with the given limit and usage and returns its
// secret and its state. Errors: ENOTFOUND for an unknown email, those of
// keygate.Service.CreateKey, and SetUsage's.
func (e *Emulator) CreateKey(ctx context.Context, p KeyParams) (string, *keygate.KeyInfo, error) {
	if p.Email == "" {
		p.Email = DevEmail
	}
	if p.Name == "" {
		p.Name = "emulator key"
	}
	svc, release, err := e.service()
	if err != nil {
		return "", nil, err
	}
	defer release()
	u, err := svc.UserByEmail(ctx, p.Email)
	if err != nil {
		return "", nil, err
	}
	p.UserID = u.ID
	secret, k, err := svc.CreateKey(ctx, p.NewKeyParams)
	if err != nil {
		return "", nil, err
	}
	info, err := setUsage(ctx, svc, k, p.Usage)
	return secret, info, err
}

// SetUsage makes the usage of the key with hash, in the window of its limit
// (its limit_reset period, else its total), usd: it charges the
// difference now, as model "emulator/usage", to the key and its
// delegation ancestors, in every period at once. Usage only grows: less
// than the key has used is EINVALID (reset the emulator, or advance the
// clock into a new period). Errors: EINVALID for a bad hash or amount,
// ENOTFOUND for an unknown key.
func (e *Emulator) SetUsage(ctx context.Context, hash string, usd float64) (*keygate.KeyInfo, error) {
	svc, release, err := e.service()
	if err != nil {
		return nil, err
	}
	defer release()
	k, err := svc.KeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return setUsage(ctx, svc, k, usd)
}

func setUsage(ctx context.Context, svc *keygate.Service, k *keygate.APIKey, usd float64) (*keygate.KeyInfo, error) {
	want, err := keygate.MicrosFromUSD("usage", usd)
	if err != nil {
		return nil, err
	}
	info, err := svc.KeyInfo(ctx, k)
	if err != nil {
		return nil, err
	}
	used := info.Usage.PeriodUsage(k.LimitReset, k.IncludeBYOK)
	if want < used {
		return nil, keygate.Errorf(keygate.EINVALID, "usage %v is less than the key has used in its window (%v): usage only grows; reset the emulator or advance the clock into a new period", want.USD(), used.USD())
	}
	if want == used {
		return info, nil
	}
	cost := want - used
	rep, err := svc.ReportUsage(ctx, []keygate.UsageEvent{{
		ID: "emulator-" + keygate.NewToken()[:32], KeyHash: k.Hash, Model: "emulator/usage", Cost: &cost,
	}}, nil)
	if err != nil {
		return nil, err
	}
	if len(rep.Rejected) > 0 {
		return nil, keygate.Errorf(keygate.EINVALID, "usage: %s", rep.Rejected[0].Error)
	}
	return svc.KeyInfo(ctx, k)
}

// Codes returns the authorization codes issued since the start or the
// last Reset, oldest first (at most the last 1,000).
func (e *Emulator) Codes() []Code { return snapshot(&e.rec.mu, e.rec.codes) }

// Exchanges returns the code exchanges, oldest first.
func (e *Emulator) Exchanges() []Exchange { return snapshot(&e.rec.mu, e.rec.exchanges) }

// Requests returns the metered requests (charges), oldest first.
func (e *Emulator) Requests() []Request { return snapshot(&e.rec.mu, e.rec.requests) }
