package storetest

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var generationTests = []test{
	{"RoundTrip", func(t *testing.T, s keygate.Store) {
		u, ws := newUser(t, s)
		app := newApp(t, s, "https://chat.example.com")
		k := newKey(t, s, ws, t0)
		for _, g := range []*keygate.Generation{
			{
				ID: "chatcmpl-" + newID(), KeyHash: k.Hash, UserID: u.ID, WorkspaceID: ws.ID, AppID: ptr(app.ID),
				Model: "acme/small", UpstreamModel: "small-v2", Provider: "local", Endpoint: "chat/completions",
				PromptTokens: 10, CompletionTokens: 20, ReasoningTokens: 3, CachedTokens: 4,
				Cost: 35, UpstreamInferenceCost: 31, BYOK: true, CostEstimated: true, Streamed: true, Cancelled: true,
				FinishReason: "length", Latency: 1234 * time.Microsecond, GenerationTime: 3 * time.Second, CreatedAt: t0,
				UpstreamID: "chatcmpl-upstream-1",
			},
			{ID: "gen-" + newID(), KeyHash: k.Hash, UserID: u.ID, WorkspaceID: ws.ID, Model: "m", CreatedAt: at(time.Hour)},
		} {
			// An id made for the charge is passed as new (NewID), which
			// changes nothing that is stored.
			charged, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g, NewID: strings.HasPrefix(g.ID, "gen-")})
			must(t, "RecordGeneration", err)
			if !charged {
				t.Errorf("RecordGeneration(%s) charged = false, want true", g.ID)
			}
			got, err := s.Generation(t.Context(), g.ID)
			must(t, "Generation", err)
			want := *g
			want.CreatedAt = g.CreatedAt.UTC()
			diff(t, "Generation("+g.ID+")", &want, got)
		}
		_, err := s.Generation(t.Context(), "gen-unknown")
		wantErr(t, "Generation(unknown)", err, keygate.ErrNotFound)
	}},
	{"Sums", func(t *testing.T, s keygate.Store) {
		// The sums returned are the counters after the charge, in the
		// order of the counters given; a key listed twice adds twice.
		_, ws := newUser(t, s)
		k, parent := newKey(t, s, ws, t0), newKey(t, s, ws, t0)
		record(t, s, k.Hash, []string{k.Hash, parent.Hash}, t0, 5, false)
		add := charges([]string{k.Hash, parent.Hash, parent.Hash}, t0, 7, false)
		charged, sums, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: &keygate.Generation{ID: "gen-" + newID(), KeyHash: k.Hash, CreatedAt: t0}, Counters: add})
		must(t, "RecordGeneration", err)
		if !charged || len(sums) != len(add) {
			t.Fatalf("RecordGeneration = %v, %d sums, want true, %d", charged, len(sums), len(add))
		}
		for i, c := range sums {
			want := add[i]
			want.Micros = 12
			if want.KeyHash == parent.Hash {
				want.Micros = 19
			}
			diff(t, "sum "+c.Period, want, c)
		}
	}},
	{"UsageAnnounced", testUsageAnnounced},
	{"ChargedOnce", func(t *testing.T, s keygate.Store) {
		// Of 16 concurrent settlements of one generation id, exactly one
		// stores it and charges; the others change nothing.
		u, ws := newUser(t, s)
		k := newKey(t, s, ws, t0)
		id := "gen-" + newID()
		var wins atomic.Int32
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				g := &keygate.Generation{ID: id, KeyHash: k.Hash, UserID: u.ID, Model: "m", Cost: keygate.Micros(100 + w), CreatedAt: t0}
				charged, sums, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g, Counters: charges([]string{k.Hash}, t0, g.Cost, false)})
				if err != nil {
					t.Errorf("RecordGeneration #%d: %v", w, err)
					return
				}
				if charged {
					wins.Add(1)
				} else if sums != nil {
					t.Errorf("RecordGeneration(duplicate) sums = %v, want nil", sums)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d of 16 settlements of one id charged, want 1", n)
		}
		g, err := s.Generation(t.Context(), id)
		must(t, "Generation", err)
		got, err := keyUsage(t, s, k.Hash, keygate.PeriodsAt(t0))
		must(t, "UsageCounters", err)
		want := keygate.Usage{Total: g.Cost, Daily: g.Cost, Weekly: g.Cost, Monthly: g.Cost}
		diff(t, "usage after one id settled 16 times", want, got)
	}},
}

// testUsageAnnounced: a store shared by replicas (a LeaseStore) that is a
// ChangeFeed announces the keys a charge added to, once each, when the
// charge commits; a generation charged before announces nothing.
func testUsageAnnounced(t *testing.T, s keygate.Store) {
	feed, shared := s.(keygate.ChangeFeed)
	if _, leases := s.(keygate.LeaseStore); !shared || !leases {
		t.Skip("the store announces no usage")
	}
	_, ws := newUser(t, s)
	k, parent := newKey(t, s, ws, t0), newKey(t, s, ws, t0)
	l := Listen(t, feed)
	l.Watch(k.Hash, parent.Hash)
	g := &keygate.Generation{ID: "gen-" + newID(), KeyHash: k.Hash, Cost: 5, CreatedAt: t0}
	add := charges([]string{k.Hash, parent.Hash}, t0, 5, false)
	_, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g, Counters: add})
	must(t, "RecordGeneration", err)
	got := map[Event]bool{}
	for range 2 {
		ev, ok := l.next(5 * time.Second)
		if !ok {
			t.Fatalf("announcements of a charge = %v, want one per key", got)
		}
		got[ev] = true
	}
	want := map[Event]bool{{keygate.ChangeUsage, k.Hash}: true, {keygate.ChangeUsage, parent.Hash}: true}
	diff(t, "announcements of a charge", want, got)
	// The same id again charges nothing, and announces nothing: the
	// next announcement is the next charge's.
	_, _, err = s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g, Counters: add})
	must(t, "RecordGeneration(again)", err)
	g2 := &keygate.Generation{ID: "gen-" + newID(), KeyHash: k.Hash, Cost: 1, CreatedAt: t0}
	_, _, err = s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g2, Counters: charges([]string{k.Hash}, t0, 1, false)})
	must(t, "RecordGeneration", err)
	l.Want(t, Event{keygate.ChangeUsage, k.Hash})
}
