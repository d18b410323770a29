package server

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/keygate/keygate/apitype"
)

// appendCurrentKeyResponse appends v as encoding/json encodes it, byte for
// byte (TestAppendBodies holds it to that for every field), but
// without reflection: GET /api/v1/key is what every gateway asks before
// each request, and encoding its 23 members by reflection was a tenth of
// the request's CPU. A member added to apitype.CurrentKey must be added
// here too; the test fails until it is.
func appendCurrentKeyResponse(b []byte, v *apitype.CurrentKeyResponse) []byte {
	k := &v.Data
	b = append(b, `{"data":{"label":`...)
	b = appendString(b, k.Label)
	b = append(b, `,"limit":`...)
	b = appendFloatPtr(b, k.Limit)
	b = append(b, `,"limit_remaining":`...)
	b = appendFloatPtr(b, k.LimitRemaining)
	b = append(b, `,"limit_reset":`...)
	b = appendStringPtr(b, k.LimitReset)
	b = append(b, `,"include_byok_in_limit":`...)
	b = strconv.AppendBool(b, k.IncludeBYOKInLimit)
	for _, m := range [...]struct {
		name string
		v    float64
	}{
		{`,"usage":`, k.Usage}, {`,"usage_daily":`, k.UsageDaily},
		{`,"usage_weekly":`, k.UsageWeekly}, {`,"usage_monthly":`, k.UsageMonthly},
		{`,"byok_usage":`, k.BYOKUsage}, {`,"byok_usage_daily":`, k.BYOKUsageDaily},
		{`,"byok_usage_weekly":`, k.BYOKUsageWeekly}, {`,"byok_usage_monthly":`, k.BYOKUsageMonthly},
	} {
		b = appendFloat(append(b, m.name...), m.v)
	}
	b = append(b, `,"is_free_tier":`...)
	b = strconv.AppendBool(b, k.IsFreeTier)
	b = append(b, `,"is_management_key":`...)
	b = strconv.AppendBool(b, k.IsManagementKey)
	b = append(b, `,"is_provisioning_key":`...)
	b = strconv.AppendBool(b, k.IsProvisioningKey)
	b = append(b, `,"expires_at":`...)
	b = appendStringPtr(b, k.ExpiresAt)
	b = append(b, `,"creator_user_id":`...)
	b = appendStringPtr(b, k.CreatorUserID)
	b = append(b, `,"workspace_id":`...)
	b = appendStringPtr(b, k.WorkspaceID)
	b = append(b, `,"organization_id":`...)
	b = appendStringPtr(b, k.OrganizationID)
	b = append(b, `,"allowed_data_regions":`...)
	if k.AllowedDataRegions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range k.AllowedDataRegions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r)
		}
		b = append(b, ']')
	}
	f := k.FreeModelDailyRequests
	b = append(b, `,"free_model_daily_requests":{"limit":`...)
	b = strconv.AppendInt(b, f.Limit, 10)
	b = append(b, `,"remaining":`...)
	b = strconv.AppendInt(b, f.Remaining, 10)
	b = append(b, `,"used":`...)
	b = strconv.AppendInt(b, f.Used, 10)
	b = append(b, `},"rate_limit":{"requests":`...)
	b = strconv.AppendInt(b, k.RateLimit.Requests, 10)
	b = append(b, `,"interval":`...)
	b = appendString(b, k.RateLimit.Interval)
	b = append(b, `,"note":`...)
	b = appendString(b, k.RateLimit.Note)
	return append(b, "}}}"...)
}

// appendVerifyResponse appends v as encoding/json encodes it, byte for
// byte (TestAppendBodies): forward-auth's answer, asked before
// every request of a proxy that keygate does not run.
func appendVerifyResponse(b []byte, v *apitype.VerifyResponse) []byte {
	d := &v.Data
	b = append(b, `{"data":{"user_id":`...)
	b = appendString(b, d.UserID)
	b = append(b, `,"key_hash":`...)
	b = appendString(b, d.KeyHash)
	b = append(b, `,"workspace_id":`...)
	b = appendString(b, d.WorkspaceID)
	b = append(b, `,"app_id":`...)
	if d.AppID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *d.AppID, 10)
	}
	b = append(b, `,"limit_remaining":`...)
	b = appendFloatPtr(b, d.LimitRemaining)
	return append(b, "}}"...)
}

// appendString appends s as a JSON string the way encoding/json writes it.
// The strings of a key body (ids, times, a label) are plain ASCII and are
// copied between quotes; any other string is left to encoding/json, whose
// escapes (of <, > and &, control characters, U+2028 and U+2029, invalid
// UTF-8) are then the ones written.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendFloat appends f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from 1e21,
// with a one-digit negative exponent written without its leading zero. A
// NaN or an infinity, which JSON cannot hold, is written as null: a key's
// amounts are whole micro-dollars and are never one.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2], b = b[n-1], b[:n-1] // e-07 → e-7
	}
	return b
}

func appendFloatPtr(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return appendFloat(b, *f)
}
