package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// cell makes text from a webhook or a CRM (an Onoff id, an error message) safe in a terminal table: control
// characters (escape sequences, newlines, tabs that would shift columns), bidirectional overrides and invalid
// UTF-8 are written as Go escapes (\x1b, \n, \u202e, \xff), so they can be read but never act on the terminal.
func cell(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := fmt.Sprintf("%+q", string(r)) // "\x1b", "\n", "\u202e"
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune reports C0 and C1 controls, DEL, and the Unicode controls that reorder or hide text.
func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}
