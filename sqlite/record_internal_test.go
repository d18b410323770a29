package sqlite

import (
	"encoding/hex"
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

// TestRecordVersion1: a record of the release before UpstreamID and NewID
// (written by its encodeCharge) still decodes, so a journal it left is
// replayed after an upgrade.
func TestRecordVersion1(t *testing.T) {
	p, err := hex.DecodeString("010b63686174636d706c2d7631026b68027531027731010e0a61636d652f736d616c6c08736d616c6c2d7632056c6f63616c10636861742f636f6d706c6574696f6e73142800004600040473746f70c08db701c096b1028280fa9eafd9a20601026b6805746f74616c00460000000006")
	if err != nil {
		t.Fatal(err)
	}
	app := int64(7)
	want := &keygate.Charge{
		Generation: &keygate.Generation{ID: "chatcmpl-v1", KeyHash: "kh", UserID: "u1", WorkspaceID: "w1", AppID: &app,
			Model: "acme/small", UpstreamModel: "small-v2", Provider: "local", Endpoint: "chat/completions",
			PromptTokens: 10, CompletionTokens: 20, Cost: 35, Streamed: true, FinishReason: "stop",
			Latency: 1500 * time.Microsecond, GenerationTime: 2500 * time.Microsecond, CreatedAt: time.UnixMicro(1_765_152_000_000_001).UTC()},
		Counters: []keygate.UsageCounter{{KeyHash: "kh", Period: "total", Start: time.UnixMicro(0).UTC(), Micros: 35}},
		InFlight: 3,
	}
	got, err := decodeCharge(p)
	if err != nil {
		t.Fatalf("decodeCharge of a version 1 record: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded charge (-want +got):\n%s", diff)
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
