package keygate_test

import (
	"math"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestMicrosFromUSD: a limit keygate accepts is one it answers back as the
// same number; one finer than a micro-dollar is refused, not rounded.
func TestMicrosFromUSD(t *testing.T) {
	tests := []struct {
		usd  float64
		want keygate.Micros
		ok   bool
	}{
		{0, 0, true},
		{0.000001, 1, true},
		{0.1, 100_000, true},
		{5.5, 5_500_000, true},
		{123.456789, 123_456_789, true},
		{999_999_999.999999, 999_999_999_999_999, true},
		{1e9, 1e15, true},
		{0.0000001, 0, false},
		{0.0000015, 0, false},
		{1.0000001, 0, false},
		{10.0 / 3, 0, false},
		{-0.000001, 0, false},
		{1e9 + 1, 0, false},
		{math.Inf(1), 0, false},
		{math.NaN(), 0, false},
	}
	for _, tt := range tests {
		got, err := keygate.MicrosFromUSD("limit", tt.usd)
		if tt.ok && (err != nil || got != tt.want || got.USD() != tt.usd) {
			t.Errorf("MicrosFromUSD(%v) = %d, %v; want %d, answered back as the same number", tt.usd, got, err, tt.want)
		}
		if !tt.ok && keygate.ErrorCode(err) != keygate.EINVALID {
			t.Errorf("MicrosFromUSD(%v) = %d, %v; want EINVALID", tt.usd, got, err)
		}
	}
	// Every amount of whole cents up to $10,000 goes through unchanged.
	for cents := range 1_000_001 {
		usd := float64(cents) / 100
		if m, err := keygate.MicrosFromUSD("limit", usd); err != nil || m != keygate.Micros(cents)*10_000 {
			t.Fatalf("MicrosFromUSD(%v) = %d, %v", usd, m, err)
		}
	}
}

// TestCheckText: the one text rule, on single-line and multi-line fields.
func TestCheckText(t *testing.T) {
	tests := []struct {
		name, v string
		ok      bool
	}{
		{"plain", "My laptop", true},
		{"accents-and-cjk", "Café 東京", true},
		{"emoji-zwj-sequence", "👨\u200d👩\u200d👧", true},
		{"zwnj-persian", "می\u200cخواهم", true},
		{"exactly-max", "0123456789", true},
		{"too-long", "0123456789x", false},
		{"nul", "a\x00b", false},
		{"newline", "a\nb", false},
		{"tab", "a\tb", false},
		{"del", "a\x7fb", false},
		{"c1-nel", "a\u0085b", false},
		{"bidi-override", "abc\u202edcba", false},
		{"bidi-isolate", "a\u2066b", false},
		{"arabic-letter-mark", "a\u061cb", false},
		{"zero-width-space", "a\u200bb", false},
		{"bom", "\ufeffa", false},
		{"soft-hyphen", "a\u00adb", false},
		{"tag-character", "a\U000E0041", false},
		{"line-separator", "a\u2028b", false},
		{"paragraph-separator", "a\u2029b", false},
		{"invalid-utf8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keygate.CheckText("name", tt.v, 10)
			if (err == nil) != tt.ok {
				t.Errorf("CheckText(%q) = %v, want ok=%v", tt.v, err, tt.ok)
			}
			if err != nil && keygate.ErrorCode(err) != keygate.EINVALID {
				t.Errorf("CheckText(%q) = %v, want EINVALID naming name", tt.v, err)
			}
		})
	}
}

// TestExpiryKeptAsReported: an expires_at finer than a millisecond is kept
// to the millisecond, the precision keygate writes times back with, so
// the key expires at the instant its key object reports.
func TestExpiryKeptAsReported(t *testing.T) {
	f := newFixture(t)
	for _, in := range []string{"2030-01-02T03:04:05.123456789Z", "2030-01-02T03:04:05.1234Z", "2030-01-02T03:04:05.123Z"} {
		_, k, err := f.svc.CreateKey(f.ctx, keygate.NewKeyParams{UserID: f.user.ID, Name: "k", ExpiresAt: &in})
		if err != nil {
			t.Fatalf("CreateKey(expires_at %s) = %v", in, err)
		}
		want := time.Date(2030, 1, 2, 3, 4, 5, 123_000_000, time.UTC)
		if k.ExpiresAt == nil || !k.ExpiresAt.Equal(want) {
			t.Errorf("expires_at %s kept as %v, want %v", in, k.ExpiresAt, want)
		}
		stored, err := f.store.Key(f.ctx, k.Hash)
		if err != nil || stored.ExpiresAt == nil || !stored.ExpiresAt.Equal(want) {
			t.Errorf("expires_at %s stored as %v (%v), want %v", in, stored.ExpiresAt, err, want)
		}
	}
}
