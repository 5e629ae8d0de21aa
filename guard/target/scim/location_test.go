package scim

import "testing"

func TestIDFromLocation(t *testing.T) {
	tests := []struct{ location, endpoint, want string }{
		{"https://scim.example.org/scim/v2/Users/2819c223-7f76", "/Users", "2819c223-7f76"},
		{"/Groups/a%2Fb%20c", "/Groups", "a/b c"},
		{"https://scim.example.org/scim/v2/Groups/42", "/Users", ""},
		{"https://scim.example.org/scim/v2/Users/", "/Users", ""},
		{"https://scim.example.org/scim/v2/Users/42?attributes=id", "/Users", ""},
		{"https://scim.example.org/scim/v2/MyUsers/42", "/Users", ""},
		{"", "/Users", ""},
		{"%zz", "/Users", ""},
	}
	for _, tt := range tests {
		if got := idFromLocation(tt.location, tt.endpoint); got != tt.want {
			t.Errorf("idFromLocation(%q, %q) = %q, want %q", tt.location, tt.endpoint, got, tt.want)
		}
	}
}
