package main

import "testing"

func TestPrintable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"Ann Example", "Ann Example"},
		{"cn=Smith\\, John,ou=Sales", "cn=Smith\\, John,ou=Sales"},
		{"Zoë Ångström 山田", "Zoë Ångström 山田"},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"a\r\nFAKE", `a\r\nFAKE`},
		{"tab\there", `tab\there`},
		{"nul\x00 del\x7f bel\x07", `nul\x00 del\x7f bel\x07`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{"evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"iso\u2066late\u2069", `iso\u2066late\u2069`},
	} {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
