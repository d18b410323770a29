package sqlite

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keygate/keygate"
)

// TestRecordRoundTrip: a charge with every member of Charge, and of the
// structs it holds, set to a value of its own decodes to the same charge;
// with pointers nil and lists empty too. A member added to any of them and
// not to encodeCharge fails here.
func TestRecordRoundTrip(t *testing.T) {
	var full keygate.Charge
	next := int64(0)
	fill(reflect.ValueOf(&full).Elem(), &next)
	if full.Generation == nil || full.AppDay == nil || len(full.Counters) == 0 {
		t.Fatal("fill left members unset")
	}
	lean := &keygate.Charge{Generation: &keygate.Generation{ID: "gen-1", CreatedAt: time.UnixMicro(5).UTC()}}
	charges := []*keygate.Charge{&full, lean}
	for _, set := range []func(*keygate.Generation){
		func(g *keygate.Generation) { g.BYOK = true },
		func(g *keygate.Generation) { g.CostEstimated = true },
		func(g *keygate.Generation) { g.Streamed = true },
		func(g *keygate.Generation) { g.Cancelled = true },
	} {
		g := *lean.Generation
		set(&g)
		charges = append(charges, &keygate.Charge{Generation: &g})
	}
	for _, c := range charges {
		got, err := decodeCharge(encodeCharge(nil, c))
		if err != nil {
			t.Fatalf("decodeCharge: %v", err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("decoded charge (-want +got):\n%s", diff)
		}
	}
	p := encodeCharge(nil, &full)
	for n := range len(p) {
		if _, err := decodeCharge(p[:n]); err == nil {
			t.Errorf("a payload cut to %d of %d bytes decoded", n, len(p))
		}
	}
	if _, err := decodeCharge(append(p, 0)); err == nil {
		t.Error("a payload with a byte more decoded")
	}
}

// fill sets every member reachable from v to a value of its own: strings,
// numbers and booleans from *next, times at a microsecond of their own,
// pointers to filled values, slices of two filled elements.
func fill(v reflect.Value, next *int64) {
	*next++
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.UnixMicro(1_700_000_000_000_000 + *next).UTC()))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), next)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), next)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), next)
		fill(v.Index(1), next)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*next%26)) + time.Duration(*next).String())
	case reflect.Int, reflect.Int64:
		v.SetInt(*next * 1_000_003)
	case reflect.Bool:
		v.SetBool(*next%2 == 0)
	default:
		panic("fill: a member of kind " + v.Kind().String())
	}
}

// FuzzRecord: no payload makes decodeCharge panic or allocate without
// bound, and a charge it decodes encodes to a payload that decodes to the
// same charge. (Payloads are fuzzed without the record's checksum, which
// readRecord checks first.)
func FuzzRecord(f *testing.F) {
	var full keygate.Charge
	next := int64(0)
	fill(reflect.ValueOf(&full).Elem(), &next)
	for _, c := range []*keygate.Charge{&full, testJournalCharge("gen-1", "key-a", 5)} {
		f.Add(encodeCharge(nil, c))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCharge(b)
		if err != nil {
			return
		}
		again, err := decodeCharge(encodeCharge(nil, c))
		if err != nil {
			t.Fatalf("a decoded charge's payload does not decode: %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Errorf("decode(encode(decode(b))) differs (-first +again):\n%s", diff)
		}
	})
}
