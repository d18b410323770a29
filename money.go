package keygate

import (
	"math"
	"math/big"
	"strconv"
)

// Micros is an amount of money in micro-dollars (1 USD = 1,000,000 Micros).
// Limits and usage are stored as integers so sums are exact.
type Micros int64

// MaxLimitUSD is the largest limit keygate accepts, in USD. It keeps every
// sum of limits and usage far from int64 overflow.
const MaxLimitUSD = 1e9

// MicrosFromUSD converts a limit in USD to Micros. field names the request
// field in the error: a negative, non-finite or larger-than-MaxLimitUSD
// amount is EINVALID, and so is one finer than a micro-dollar (more than
// six decimal places): keygate would answer it back as another number.
// Every decimal of at most six places is exact: rounding it to Micros and
// back gives the same float64.
func MicrosFromUSD(field string, usd float64) (Micros, error) {
	if math.IsNaN(usd) || math.IsInf(usd, 0) || usd < 0 {
		return 0, Errorf(EINVALID, "%s must be a number >= 0", field)
	}
	if usd > MaxLimitUSD {
		return 0, Errorf(EINVALID, "%s must be at most %s", field, strconv.FormatFloat(MaxLimitUSD, 'f', -1, 64))
	}
	m := Micros(math.Round(usd * 1e6))
	if m.USD() != usd {
		return 0, Errorf(EINVALID, "%s must be a whole number of micro-dollars (at most 6 decimal places)", field)
	}
	return m, nil
}

// USD returns m in US dollars.
func (m Micros) USD() float64 { return float64(m) / 1e6 }

// MicrosFromUSDText converts a JSON number of USD (OpenRouter's usage.cost,
// "0.000249" or "2.49e-4") exactly, rounding up to a micro-dollar: 0.000249
// is 249 µ$ and 0.0000001 is 1 µ$. ok is false for text that is not a
// non-negative decimal number or is beyond int64 micro-dollars.
func MicrosFromUSDText(s string) (m Micros, ok bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return 0, false
	}
	r.Mul(r, big.NewRat(1e6, 1))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return Micros(q.Int64()), true
}
