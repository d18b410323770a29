package server

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/keygate/keygate/apitype"
)

// TestAppendBodies holds the hand-written encoders of GET /api/v1/key's
// and forward-auth's bodies to encoding/json's bytes, over bodies whose
// every member (found by reflection, so a member added to the wire type
// and not to its encoder fails here) takes values from awkward sets: null
// and set pointers, nil and empty lists, strings that need escapes, floats
// in and out of exponent form.
func TestAppendBodies(t *testing.T) {
	t.Run("CurrentKeyResponse", func(t *testing.T) {
		checkAppend(t, 5000, func(v *apitype.CurrentKeyResponse) []byte { return appendCurrentKeyResponse(nil, v) })
	})
	t.Run("VerifyResponse", func(t *testing.T) {
		checkAppend(t, 2000, func(v *apitype.VerifyResponse) []byte { return appendVerifyResponse(nil, v) })
	})
}

// checkAppend compares appendBody with json.Marshal on n random bodies.
func checkAppend[T any](t *testing.T, n int, appendBody func(*T) []byte) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		var v T
		fill(t, reflect.ValueOf(&v).Elem(), r)
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendBody(&v); string(got) != string(want) {
			t.Fatalf("body %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

var (
	someStrings = []string{"", "sk-kg-v1-abc...xyz", "2026-12-07T19:48:22.000Z", "a\"b\\c", "<script>&", "tab\tnew\nline\x01",
		"café", "\u2028\u2029", "bad \xff utf-8", "7d1f8a4e-3a4b-4c5d-9e6f-0123456789ab"}
	someFloats = []float64{0, 1, -1, 0.000001, 1e-7, 2.5e-9, 123.456789, 1e20, 1e21, 1.5e300, -4.2e-8, 0.1 + 0.2,
		math.MaxInt64 / 1e6, math.SmallestNonzeroFloat64}
)

// fill sets every member of v, recursively, from the sets above.
func fill(t *testing.T, v reflect.Value, r *rand.Rand) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, v.Field(i), r)
		}
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), r)
	case reflect.Slice:
		switch r.IntN(3) {
		case 0:
			v.SetZero()
		default:
			n := r.IntN(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fill(t, v.Index(i), r)
			}
		}
	case reflect.String:
		v.SetString(someStrings[r.IntN(len(someStrings))])
	case reflect.Float64:
		v.SetFloat(someFloats[r.IntN(len(someFloats))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int64:
		v.SetInt(r.Int64N(1<<40) - 1<<39)
	default:
		t.Fatalf("fill: a member of kind %s: teach fill and appendCurrentKeyResponse about it", v.Kind())
	}
}
