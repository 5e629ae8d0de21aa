package guard

import "testing"

// TestAccountEnabled: an account is disabled exactly when its
// userAccountControl has bit 0x2, whatever the other flags; an object
// without the attribute (OpenLDAP, a group) is enabled.
func TestAccountEnabled(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		attrs map[string][]string
		want  bool
	}{
		{nil, true},
		{map[string][]string{"cn": {"Ann"}}, true},
		{map[string][]string{"userAccountControl": {"512"}}, true},    // NORMAL_ACCOUNT
		{map[string][]string{"userAccountControl": {"514"}}, false},   // NORMAL_ACCOUNT | ACCOUNTDISABLE
		{map[string][]string{"userAccountControl": {"66048"}}, true},  // | DONT_EXPIRE_PASSWORD
		{map[string][]string{"userAccountControl": {"66050"}}, false}, // | DONT_EXPIRE_PASSWORD | ACCOUNTDISABLE
		{map[string][]string{"useraccountcontrol": {" 2 "}}, false},
		{map[string][]string{"userAccountControl": {"-2147483646"}}, false}, // the sign bit and 0x2
		{map[string][]string{"userAccountControl": {"not a number"}}, true},
		{map[string][]string{"userAccountControl": {}}, true},
	} {
		if got := AccountEnabled(tt.attrs); got != tt.want {
			t.Errorf("AccountEnabled(%v) = %v, want %v", tt.attrs, got, tt.want)
		}
	}
}

// TestClassify: users, groups, and what looks like a user but is not one.
func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		classes []string
		want    string
	}{
		{[]string{"top", "person", "organizationalPerson", "user"}, TypeUser},
		{[]string{"inetOrgPerson", "posixAccount"}, TypeUser},
		{[]string{"top", "group"}, TypeGroup},
		{[]string{"groupOfNames"}, TypeGroup},
		{[]string{"top", "person", "organizationalPerson", "user", "computer"}, ""},
		{[]string{"top", "person", "organizationalPerson", "contact"}, ""},
		{[]string{"organizationalUnit"}, ""},
	} {
		if got := Classify(tt.classes); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.classes, got, tt.want)
		}
	}
}
