package ldif

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"testing"
)

// benchLDIF returns n user entries shaped like a slapcat export (about 700
// bytes each, with operational attributes and a base64 value).
func benchLDIF(n int) []byte {
	var b bytes.Buffer
	b.WriteString("version: 1\n\n")
	for i := range n {
		fmt.Fprintf(&b, "dn: uid=user%d,ou=Sales,dc=corp,dc=example\n", i)
		b.WriteString("objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\n")
		fmt.Fprintf(&b, "uid: user%d\ncn: Maria Lopez %d\nsn: Lopez\ngivenName: Maria\ndisplayName: Maria Lopez\n", i, i)
		fmt.Fprintf(&b, "mail: user%d@corp.example\ntitle: Account Executive\ndepartmentNumber: Sales\n", i)
		fmt.Fprintf(&b, "employeeNumber: %d\ntelephoneNumber: +1 555 010 %04d\n", 100000+i, i%10000)
		fmt.Fprintf(&b, "description:: %s\n", base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("Zoë's team member number %d", i))))
		b.WriteString("structuralObjectClass: inetOrgPerson\n")
		fmt.Fprintf(&b, "entryUUID: 0b8f6d2c-1c3e-4a5b-9c7d-%012d\n", i)
		b.WriteString("creatorsName: cn=admin,dc=corp,dc=example\ncreateTimestamp: 20250101120000Z\n")
		fmt.Fprintf(&b, "entryCSN: 20250101120000.000000Z#000000#000#000000\nmodifiersName: cn=adm\n in,dc=corp,dc=example\nmodifyTimestamp: 20250101120000Z\n\n")
	}
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	data := benchLDIF(20000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data))
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 20000 {
			b.Fatalf("read %d records, want 20000", n)
		}
	}
}
