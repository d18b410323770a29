package keygate

import (
	"unicode"
	"unicode/utf8"
)

// The one rule for text that keygate stores or shows back, whichever field,
// query parameter, header or form field it came in: key names and labels,
// workspace names and descriptions, app titles, emails. It must be valid
// UTF-8, at most a given number of code points long, and hold no
//
//   - control characters (Unicode Cc: C0, DEL, C1), which can end a log line
//     or a header, and NUL, which PostgreSQL's text refuses;
//   - format characters (Unicode Cf), among them the bidi controls that
//     make text read differently from what it is ("Trojan Source",
//     CVE-2021-42574; UAX #9 §2), zero-width spaces, the BOM and tag
//     characters, which hide text;
//   - line and paragraph separators (Zl, Zp: U+2028, U+2029).
//
// Two format characters are text and stay allowed: the zero-width non-joiner
// and joiner (U+200C, U+200D), which Persian, the Indic scripts and emoji
// sequences need. A multi-line field (a workspace description) also takes
// tab, line feed and carriage return.

// CheckText applies the text rule to the single-line value v of field, at
// most maxRunes code points. Errors are EINVALID naming field.
func CheckText(field, v string, maxRunes int) error {
	return checkText(field, v, maxRunes, false)
}

// checkText is CheckText; multiline also allows tab, LF and CR.
func checkText(field, v string, maxRunes int, multiline bool) error {
	if !utf8.ValidString(v) {
		return Errorf(EINVALID, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(v) > maxRunes {
		return Errorf(EINVALID, "%s must be at most %d characters", field, maxRunes)
	}
	for _, r := range v {
		if multiline && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		if !textRune(r) {
			return Errorf(EINVALID, "%s must not contain control, format or invisible characters", field)
		}
	}
	return nil
}

// textRune reports whether r may appear in text under the rule above.
func textRune(r rune) bool {
	switch {
	case r == 0x200c || r == 0x200d:
		return true
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return false
	}
	return true
}
