package keygate

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. The server maps each to exactly one HTTP status.
const (
	EINVALID      = "invalid"      // 400: the request is malformed or breaks a rule
	EUNAUTHORIZED = "unauthorized" // 401: no credential, or one that is unknown, disabled or expired
	EPAYMENT      = "payment"      // 402: the account's credit balance is used up
	EFORBIDDEN    = "forbidden"    // 403: the credential may not do this
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409: the resource's state forbids the change
	ERATELIMIT    = "rate_limited" // 429
	EINTERNAL     = "internal"     // 500: never caused by client input
	ETOOLARGE     = "too_large"    // 413
	EUNSUPPORTED  = "unsupported"  // 415: unsupported media type
	EMETHOD       = "not_allowed"  // 405
	EUNAVAILABLE  = "unavailable"  // 503: too busy now, or the store cannot be reached to authorize spending; retry later
)

// Error is an error whose Message is safe to show to the client. Messages
// name the offending field and never contain a secret.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when positive, is how long the client should wait
	// before trying again; the server sends it as Retry-After in whole
	// seconds (RFC 9110 §10.2.3).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("keygate: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the *Error's own, or
// "Internal Server Error" for anything else (whose cause is only logged).
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "Internal Server Error"
}

// errUnavailable refuses a request whose spending cannot be authorized
// because the store does not answer: never an unmetered answer.
var errUnavailable = &Error{Code: EUNAVAILABLE, Message: "the store cannot be reached to authorize spending"}

// Store errors. Adapters return these (wrapped or not); the Service turns
// them into client-facing *Error values.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrCodeUsed is returned by RedeemAuthCode when the code was already
	// redeemed: another exchange won the conditional update.
	ErrCodeUsed = errors.New("authorization code already used")
)

// Messages fixed by OpenRouter's documentation of POST /api/v1/auth/keys.
const (
	MsgInvalidMethod = "Invalid code_challenge_method"
	MsgCodeExpired   = "Authorization code expired"
	MsgInvalidCode   = "Invalid code or code_verifier"
	MsgManagement    = "Only management keys can perform this operation"
	// MsgManagementSpend refuses a management key on a request that
	// spends (the gateway, forward-auth): OpenRouter's management keys
	// "cannot be used to make API calls to the completion endpoints".
	MsgManagementSpend = "Management keys cannot make requests that spend: use an API key"
)
