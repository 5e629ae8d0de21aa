package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// printable is how syncguard prints text that comes from the directory or
// from a user (names, DNs, attributes, configuration names, messages that
// quote them): what a terminal would act on is escaped, Go style. That is
// every control character (C0 with tab, carriage return and line feed, DEL,
// C1: escape sequences that clear the screen or retitle the window, line
// breaks that fake a line or break a table row), bytes that are not UTF-8,
// and the Unicode controls that reorder or hide text (bidi overrides and
// isolates). JSON output needs none of it: encoding/json escapes control
// characters itself.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if escaped(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && escaped(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// escaped reports whether printable escapes r.
func escaped(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == utf8.RuneError:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidi marks, embeddings, overrides and isolates
	}
	return false
}
