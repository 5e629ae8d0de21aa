package guard

import (
	"strconv"
	"strings"
)

// accountDisable is userAccountControl's ACCOUNTDISABLE bit.
const accountDisable = 0x2

// AccountEnabled reports whether the account with these synced attributes is enabled: AD's userAccountControl without bit 0x2 (ACCOUNTDISABLE); true when the attribute is absent.
func AccountEnabled(attrs map[string][]string) bool {
	for name, vals := range attrs {
		if !strings.EqualFold(name, "userAccountControl") || len(vals) == 0 {
			continue
		}
		// AD writes the flags as a signed 32-bit decimal; a value that is
		// not one says nothing about the account.
		uac, err := strconv.ParseInt(strings.TrimSpace(vals[0]), 10, 64)
		if err != nil {
			return true
		}
		return uac&accountDisable == 0
	}
	return true
}
