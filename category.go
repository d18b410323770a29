package keygate

// Categories of apps. X-OpenRouter-Categories names subcategories
// ("cli-agent"); rankings filter by a subcategory or by one of four groups
// of them. OpenRouter's spec (GET /datasets/app-rankings, parameters
// category and subcategory) lists both enums but not which subcategory
// belongs to which group: this table is keygate's, and docs/apps.md
// repeats it.
var categoryGroups = map[string][]string{
	"coding":        {"cli-agent", "ide-extension", "cloud-agent", "programming-app", "native-app-builder"},
	"creative":      {"creative-writing", "video-gen", "image-gen", "audio-gen"},
	"entertainment": {"roleplay", "game"},
	"productivity":  {"writing-assistant", "general-chat", "personal-agent", "legal"},
}

// CategoryGroups returns the four groups in the order pages show them.
func CategoryGroups() []string {
	return []string{"coding", "creative", "entertainment", "productivity"}
}

// CategoryOf returns the group of subcategory, "" when it is in none.
func CategoryOf(subcategory string) string {
	for g, subs := range categoryGroups {
		for _, s := range subs {
			if s == subcategory {
				return g
			}
		}
	}
	return ""
}

// inCategory reports whether an app with cats is in group (one of cats is
// a subcategory of it) and, when subcategory is not "", tagged with it.
func inCategory(cats []string, group, subcategory string) bool {
	for _, c := range cats {
		if subcategory != "" {
			if c == subcategory {
				return true
			}
		} else if group == "" || CategoryOf(c) == group {
			return true
		}
	}
	return group == "" && subcategory == ""
}
