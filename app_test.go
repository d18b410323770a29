package keygate_test

import (
	"testing"

	"github.com/keygate/keygate"
)

func TestAppChangedBy(t *testing.T) {
	stored := &keygate.App{URL: "https://chat.example.com", Title: "Chat", Categories: []string{"chat"}}
	tests := []struct {
		name string
		u    keygate.App
		want bool
	}{
		{"nothing-new", keygate.App{URL: stored.URL}, false},
		{"same-title", keygate.App{URL: stored.URL, Title: "Chat"}, false},
		{"same-categories", keygate.App{URL: stored.URL, Categories: []string{"chat"}}, false},
		{"new-title", keygate.App{URL: stored.URL, Title: "Chat 2"}, true},
		{"new-categories", keygate.App{URL: stored.URL, Categories: []string{"chat", "coding"}}, true},
		{"reordered-categories", keygate.App{URL: stored.URL, Categories: []string{"coding", "chat"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stored.ChangedBy(&tt.u); got != tt.want {
				t.Errorf("ChangedBy(%+v) = %t, want %t", tt.u, got, tt.want)
			}
		})
	}
}
