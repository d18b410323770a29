package keygate_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate"
)

// TestCategoryTableInDocs: the table of docs/apps.md is the code's, row by
// row: each of the spec's fifteen subcategories in exactly one of its four
// groups.
func TestCategoryTableInDocs(t *testing.T) {
	b, err := os.ReadFile("docs/apps.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "### Categories")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z]+)` \\| (.+) \\|$")
	code := regexp.MustCompile("`([a-z-]+)`")
	var groups, subs []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		groups = append(groups, m[1])
		for _, c := range code.FindAllStringSubmatch(m[2], -1) {
			subs = append(subs, c[1])
			if got := keygate.CategoryOf(c[1]); got != m[1] {
				t.Errorf("docs put %s in %s; the code in %q", c[1], m[1], got)
			}
		}
	}
	if !slices.Equal(groups, keygate.CategoryGroups()) {
		t.Errorf("docs' groups %v, the code's %v", groups, keygate.CategoryGroups())
	}
	// The spec's enum of subcategories (GET /datasets/app-rankings).
	spec := strings.Fields("cli-agent ide-extension cloud-agent programming-app native-app-builder creative-writing " +
		"video-gen image-gen audio-gen roleplay game writing-assistant general-chat personal-agent legal")
	slices.Sort(spec)
	slices.Sort(subs)
	if !slices.Equal(subs, spec) {
		t.Errorf("docs' subcategories %v, the spec's %v", subs, spec)
	}
	for _, s := range spec {
		if keygate.CategoryOf(s) == "" {
			t.Errorf("%s is in no group", s)
		}
	}
}
