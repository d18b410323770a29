package storetest

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func init() {
	generationTests = append(generationTests, test{"KeyGenerations", func(t *testing.T, s keygate.Store) {
		u, ws := newUser(t, s)
		k, other := newKey(t, s, ws, t0), newKey(t, s, ws, t0)
		var ids []string
		for i, d := range []time.Duration{time.Hour, 3 * time.Hour, 2 * time.Hour, 3 * time.Hour} {
			g := &keygate.Generation{ID: "gen-" + string(rune('a'+i)) + newID(), KeyHash: k.Hash, UserID: u.ID, WorkspaceID: ws.ID,
				Model: "m", PromptTokens: int64(i), Cost: keygate.Micros(10 + i), CreatedAt: at(d)}
			if _, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: g}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, g.ID)
		}
		if _, _, err := s.RecordGeneration(t.Context(), &keygate.Charge{Generation: &keygate.Generation{
			ID: "gen-" + newID(), KeyHash: other.Hash, UserID: u.ID, WorkspaceID: ws.ID, Model: "m", CreatedAt: at(4 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.KeyGenerations(t.Context(), k.Hash, 3)
		must(t, "KeyGenerations", err)
		// Newest first; the two at +3h by id, descending ("gen-d…" > "gen-b…").
		want := []string{ids[3], ids[1], ids[2]}
		if len(got) != len(want) {
			t.Fatalf("KeyGenerations(limit 3) = %d generations, want %d", len(got), len(want))
		}
		for i, g := range got {
			if g.ID != want[i] || g.KeyHash != k.Hash {
				t.Errorf("KeyGenerations[%d] = %s of %s, want %s", i, g.ID, g.KeyHash[:8], want[i])
			}
		}
		if got[0].Cost != 13 || got[0].PromptTokens != 3 || !got[0].CreatedAt.Equal(at(3*time.Hour).Truncate(time.Microsecond)) {
			t.Errorf("KeyGenerations[0] = cost %d, prompt %d, at %v; want 13, 3, %v", got[0].Cost, got[0].PromptTokens, got[0].CreatedAt, at(3*time.Hour))
		}
		none, err := s.KeyGenerations(t.Context(), newKey(t, s, ws, t0).Hash, 10)
		must(t, "KeyGenerations(unused key)", err)
		if len(none) != 0 {
			t.Errorf("KeyGenerations(unused key) = %d generations, want 0", len(none))
		}
	}})
}
