package gateway

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/keygate/keygate"
)

// Price is a price per token in pico-dollars (1e-12 USD). A price in USD
// per million tokens is exactly a price in micro-dollars per token, so
// "0.07" USD per million tokens is 70,000 pico-dollars per token, with no
// rounding anywhere.
type Price int64

// maxPrice caps a configured price at 1,000,000 USD per million tokens.
const maxPrice = Price(1e12)

// ParsePrice reads a decimal price in USD per million tokens ("0.50",
// "2", "1e-3") exactly. It fails on a negative or non-decimal value, on one
// above 1,000,000, and on one finer than a pico-dollar per token (more than
// six decimal places of USD per million tokens).
func ParsePrice(s string) (Price, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	r.Mul(r, big.NewRat(1e6, 1))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q has more than 6 decimal places", s)
	}
	if !r.Num().IsInt64() || Price(r.Num().Int64()) > maxPrice {
		return 0, fmt.Errorf("%q is above 1000000", s)
	}
	return Price(r.Num().Int64()), nil
}

// PerTokenUSD returns p as a decimal string of USD per token, the unit of
// OpenRouter's /models pricing ("0.0000005" for 0.50 USD per million).
func (p Price) PerTokenUSD() string {
	s := strconv.FormatInt(int64(p), 10)
	if len(s) <= 12 {
		s = strings.Repeat("0", 13-len(s)) + s
	}
	s = s[:len(s)-12] + "." + s[len(s)-12:]
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// Cost returns what prompt and completion tokens cost at the prompt and
// completion prices, rounded up to a micro-dollar once for the whole
// request: 100 tokens at 0.07 USD per million cost 7 µ$, and 17 prompt plus
// 482 completion tokens at 0.50/1.50 cost 8.5 + 723 = 731.5, so 732 µ$.
// Negative counts are taken as 0; a sum beyond int64 saturates.
func Cost(promptTokens, completionTokens int64, prompt, completion Price) keygate.Micros {
	pico, carry := bits.Add64(mulSat(promptTokens, prompt), mulSat(completionTokens, completion), 0)
	if carry != 0 {
		return math.MaxInt64
	}
	return picoToMicrosUp(pico)
}

// mulSat is max(n, 0) × p in pico-dollars, saturating at the uint64 maximum.
func mulSat(n int64, p Price) uint64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), uint64(p))
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// picoToMicrosUp rounds pico-dollars up to whole micro-dollars.
func picoToMicrosUp(pico uint64) keygate.Micros {
	m := pico/1e6 + min(pico%1e6, 1)
	if m > math.MaxInt64 {
		return math.MaxInt64
	}
	return keygate.Micros(m)
}

// Price returns what promptTokens and completionTokens of model cost by
// the models file in use: the model's prices by the rule of Cost, or for
// a "pricing: upstream" model its fallback_pricing. It prices usage that
// a proxy keygate does not run reports without a cost (POST
// /api/v1/usage). ok is false for a model the file does not serve.
func (g *Gateway) Price(model string, promptTokens, completionTokens int64) (m keygate.Micros, ok bool) {
	md := g.routes.Load().model(model)
	if md == nil {
		return 0, false
	}
	prompt, completion := md.Pricing.tokenPrices()
	return Cost(promptTokens, completionTokens, prompt, completion), true
}
