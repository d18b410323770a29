package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

var appTests = []test{
	{"Create", func(t *testing.T, s keygate.Store) {
		in := &keygate.App{
			URL: "https://chat.example.com/app", Title: "Example Chat",
			Categories: []string{"chat", "coding"}, CreatedAt: t0,
		}
		got, err := s.UpsertApp(t.Context(), in)
		must(t, "UpsertApp", err)
		if got.ID <= 0 {
			t.Fatalf("UpsertApp(new).ID = %d, want > 0", got.ID)
		}
		want := *in
		want.ID = got.ID
		diff(t, "UpsertApp(new)", &want, got)
		wantUTC(t, "UpsertApp", &got.CreatedAt)

		read, err := s.App(t.Context(), got.ID)
		must(t, "App", err)
		diff(t, "App", &want, read)
	}},
	{"Loopback", func(t *testing.T, s keygate.Store) {
		in := &keygate.App{URL: "http://localhost:3000", Title: "localhost:3000", IsLoopback: true, CreatedAt: t0}
		got, err := s.UpsertApp(t.Context(), in)
		must(t, "UpsertApp", err)
		if !got.IsLoopback {
			t.Errorf("UpsertApp(%s).IsLoopback = false, want true", in.URL)
		}
	}},
	{"StableID", func(t *testing.T, s keygate.Store) {
		a := newApp(t, s, "https://a.example")
		b := newApp(t, s, "https://b.example")
		if a.ID == b.ID {
			t.Fatalf("two URLs got the same app id %d", a.ID)
		}
		again, err := s.UpsertApp(t.Context(), &keygate.App{URL: a.URL, Title: a.Title, CreatedAt: at(time.Hour)})
		must(t, "UpsertApp(again)", err)
		diff(t, "UpsertApp(same URL again)", a, again)
	}},
	{"Update", testUpsertAppUpdate},
	{"Concurrent", func(t *testing.T, s keygate.Store) {
		const n = 16
		ids := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				a, err := s.UpsertApp(t.Context(), &keygate.App{URL: "https://race.example", Title: "Race", CreatedAt: t0})
				if err != nil {
					t.Errorf("UpsertApp #%d: %v", i, err)
					return
				}
				ids[i] = a.ID
			})
		}
		wg.Wait()
		for i, id := range ids {
			if id != ids[0] {
				t.Errorf("concurrent UpsertApp #%d got id %d, #0 got %d; want one app", i, id, ids[0])
			}
		}
	}},
	{"NotFound", func(t *testing.T, s keygate.Store) {
		a := newApp(t, s, "https://a.example")
		_, err := s.App(t.Context(), a.ID+1000)
		wantErr(t, "App(unknown)", err, keygate.ErrNotFound)
	}},
}

// testUpsertAppUpdate upserts onto a stored app {Title "Old", Categories
// [chat]} and checks what is kept: each row starts from its own app.
func testUpsertAppUpdate(t *testing.T, s keygate.Store) {
	tests := []struct {
		name      string
		title     string
		cats      []string
		wantTitle string
		wantCats  []string
	}{
		{"NothingNew", "Old", []string{"chat"}, "Old", []string{"chat"}},
		{"NewTitle", "New", nil, "New", []string{"chat"}},
		{"EmptyTitleKeeps", "", nil, "Old", []string{"chat"}},
		{"NewCategoriesReplace", "Old", []string{"coding", "agents"}, "Old", []string{"coding", "agents"}},
		{"EmptyCategoriesKeep", "Old", []string{}, "Old", []string{"chat"}},
		{"Both", "New", []string{"coding"}, "New", []string{"coding"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "https://" + tt.name + ".example"
			orig, err := s.UpsertApp(t.Context(), &keygate.App{URL: url, Title: "Old", Categories: []string{"chat"}, CreatedAt: t0})
			must(t, "UpsertApp(original)", err)

			got, err := s.UpsertApp(t.Context(), &keygate.App{
				URL: url, Title: tt.title, Categories: tt.cats,
				// Never changed by an upsert onto a stored app.
				IsLoopback: true, CreatedAt: at(time.Hour),
			})
			must(t, "UpsertApp(update)", err)
			want := *orig
			want.Title, want.Categories = tt.wantTitle, tt.wantCats
			diff(t, "UpsertApp("+tt.name+")", &want, got)

			read, err := s.App(t.Context(), orig.ID)
			must(t, "App", err)
			diff(t, "App after UpsertApp("+tt.name+")", &want, read)
		})
	}
}
