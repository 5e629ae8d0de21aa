package guard

import "testing"

// TestNormalizeDNFast: the fast path takes the plain DNs a directory
// writes (it exists for them) and answers as the full parser does; it
// declines the rest, which the parser then reads.
func TestNormalizeDNFast(t *testing.T) {
	accept := []string{
		"cn=Ann Lee,ou=Sales,dc=corp,dc=example", "CN=Ann , OU = Sales ,DC=corp", "uid=a.b-c,ou=x", " cn=a",
		"cn=a ,ou=x ", "2.5.4.3=x,dc=y", "OID.2.5.4.3=x", "cn=Ann  Lee", "cn=a/b:c@d",
	}
	decline := []string{
		"", "cn=a,", "cn=,ou=x", "cn=a=b,ou=x", "c n=a", "cn=a,,ou=x", "=a", "cn", "cn=a\tb", "cn=Zoë", "cn=#x",
		"cn=a+sn=b", `cn=a\,b`, "cn=a;ou=b", "-cn=a", `cn="a",ou=x`, "cn=<a>",
	}
	for _, dn := range accept {
		fast, ok := normalizeDNFast(dn)
		if !ok {
			t.Errorf("normalizeDNFast(%q) declined a plain DN", dn)
			continue
		}
		slow, err := normalizeDNSlow(dn)
		if err != nil || slow != fast {
			t.Errorf("normalizeDNFast(%q) = %q, the parser says %q, %v", dn, fast, slow, err)
		}
	}
	for _, dn := range decline {
		if fast, ok := normalizeDNFast(dn); ok {
			t.Errorf("normalizeDNFast(%q) = %q; want it left to the parser", dn, fast)
		}
	}
}
