package ldap

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// berLen encodes a definite length.
func berLen(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	}
	return []byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// wrap builds an LDAPMessage around raw protocolOp (and controls) bytes.
func wrap(id int64, op ...[]byte) []byte {
	content := []byte{0x02, 0x01, byte(id)}
	for _, b := range op {
		content = append(content, b...)
	}
	return append(append([]byte{0x30}, berLen(len(content))...), content...)
}

func entryBytes(dn string, attrs ...Attr) []byte { return entryPacket(dn, attrs...).Bytes() }

// done encodes a SearchResultDone op and its controls: a paged results
// control with cookie unless paged is false.
func done(code int, diag string, paged bool, cookie string) [][]byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationSearchResultDone, nil, "Done")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "Result Code"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Matched DN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "Diagnostic"))
	out := [][]byte{op.Bytes()}
	if paged {
		c := ldapv3.NewControlPaging(0)
		c.SetCookie([]byte(cookie))
		controls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		controls.AppendChild(c.Encode())
		out = append(out, controls.Bytes())
	}
	return out
}

// reply is what the fake server does for one search request.
type reply struct {
	out   []byte
	after int // keep, hangUp or stall
}

const (
	keep   = iota // wait for the next request
	hangUp        // close the connection
	stall         // keep the connection open, answer nothing more
)

// fakeServer answers the search requests of one client at a time with
// respond(page, message ID); it reads requests with the package's own
// message reader.
func fakeServer(t *testing.T, respond func(page int, id int64) reply) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			r := newMsgReader(c, time.Minute)
			page := 0
			for {
				m, err := r.next()
				if err != nil || m.op != 0x63 { // SearchRequest; anything else ends the session
					break
				}
				page++
				rep := respond(page, m.id)
				if _, err := c.Write(rep.out); err != nil || rep.after == hangUp {
					break
				}
				if rep.after == stall {
					r.next() // until the client hangs up
					break
				}
			}
			c.Close()
		}
	}()
	return "ldap://" + l.Addr().String()
}

var (
	alice = entryBytes("uid=alice,dc=corp,dc=example", Attr{"uid", []string{"alice"}}, Attr{"objectClass", []string{"inetOrgPerson"}})
	bob   = entryBytes("uid=bob,dc=corp,dc=example", Attr{"uid", []string{"bob"}}, Attr{"objectClass", []string{"inetOrgPerson"}})
)

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestSearchFakeServer drives Search against a scripted server: whatever
// the server does wrong — a truncated or malformed message, a wrong message
// ID, an absurd length, an unexpected operation — the search ends in an
// *Error, never in a short success.
func TestSearchFakeServer(t *testing.T) {
	badEntry := entryBytes("uid=carol,dc=corp,dc=example", Attr{"uid", []string{"carol"}})
	badEntry[len(badEntry)-8] = 0x7f // the SET of values claims more than the entry holds
	for _, tc := range []struct {
		name    string
		respond func(page int, id int64) reply
		want    string // in the error; "" for success
		kind    error  // ErrConnectionLost, ErrTimeout or nil
		entries int    // entries handed to fn
	}{
		{"paged, two pages", func(page int, id int64) reply {
			if page == 1 {
				return reply{out: cat(wrap(id, alice), wrap(id, done(0, "", true, "next")...))}
			}
			return reply{out: cat(wrap(id, bob), wrap(id, done(0, "", true, "")...))}
		}, "", nil, 2},
		{"no paging support: everything at once", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), wrap(id, bob), wrap(id, done(0, "", false, "")...))}
		}, "", nil, 2},
		{"references and intermediate responses are skipped", func(page int, id int64) reply {
			ref := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationSearchResultReference, nil, "Ref")
			ref.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://other/dc=x", "URI"))
			inter := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationIntermediateResponse, nil, "Intermediate")
			return reply{out: cat(wrap(id, alice), wrap(id, ref.Bytes()), wrap(id, inter.Bytes()), wrap(id, bob), wrap(id, done(0, "", true, "")...))}
		}, "", nil, 2},
		{"paging stops after page 1", func(page int, id int64) reply {
			if page == 1 {
				return reply{out: cat(wrap(id, alice), wrap(id, done(0, "", true, "next")...))}
			}
			return reply{out: cat(wrap(id, bob), wrap(id, done(0, "", false, "")...))}
		}, "(page 2, after 2 entries): the server stopped returning the paged results control", nil, 2},
		{"busy on page 2", func(page int, id int64) reply {
			if page == 1 {
				return reply{out: cat(wrap(id, alice), wrap(id, done(0, "", true, "next")...))}
			}
			return reply{out: wrap(id, done(51, "try later", false, "")...)}
		}, "(page 2, after 1 entries): busy: try later", nil, 1},
		{"truncated entry, then closed", func(page int, id int64) reply {
			m := wrap(id, bob)
			return reply{out: cat(wrap(id, alice), m[:len(m)/2]), after: hangUp}
		}, "(page 1, after 1 entries): connection to the server lost: the server closed the connection in the middle of a message", ErrConnectionLost, 1},
		{"closed between two entries", func(page int, id int64) reply {
			return reply{out: wrap(id, alice), after: hangUp}
		}, "(page 1, after 1 entries): connection to the server lost: the server closed the connection", ErrConnectionLost, 1},
		{"truncated entry, then silence", func(page int, id int64) reply {
			m := wrap(id, bob)
			return reply{out: cat(wrap(id, alice), m[:len(m)-3]), after: stall}
		}, "(page 1, after 1 entries): timed out after 300ms waiting for the server", ErrTimeout, 1},
		{"malformed entry", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), wrap(id, badEntry), wrap(id, bob), wrap(id, done(0, "", true, "")...))}
		}, `(page 1, after 1 entries): protocol error: malformed SearchResultEntry: "uid=carol,dc=corp,dc=example": attribute "uid": vals: element longer than its container`, nil, 1},
		{"wrong message ID", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), wrap(id+1, bob), wrap(id, done(0, "", true, "")...))}
		}, "protocol error: a response to message 2 while waiting for message 1", nil, 1},
		{"indefinite length", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), []byte{0x30, 0x80, 0x02, 0x01, byte(id)}, bob, []byte{0, 0})}
		}, "protocol error: indefinite length in an LDAPMessage", nil, 1},
		{"absurd length", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, byte(id)}), after: stall}
		}, "protocol error: a message of 2147483647 bytes (limit 64 MiB)", nil, 1},
		{"not an LDAPMessage", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))}
		}, "protocol error: a message starts with tag 0x48, not an LDAPMessage SEQUENCE", nil, 1},
		{"protocolOp longer than the message", func(page int, id int64) reply {
			m := wrap(id, alice)
			m[6]++ // the op's length, one more than the message holds
			return reply{out: m}
		}, "protocol error: LDAPMessage 1: protocolOp: element longer than its container", nil, 0},
		{"garbage after the protocolOp", func(page int, id int64) reply {
			return reply{out: wrap(id, alice, []byte{0x04, 0x00})}
		}, "protocol error: LDAPMessage 1: bytes after the protocolOp that are not controls", nil, 0},
		{"unexpected operation", func(page int, id int64) reply {
			bind := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationBindResponse, nil, "Bind Response")
			bind.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "Result Code"))
			bind.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Matched DN"))
			bind.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Diagnostic"))
			return reply{out: cat(wrap(id, alice), wrap(id, bind.Bytes()))}
		}, "protocol error: Bind Response in answer to a search", nil, 1},
		{"malformed SearchResultDone", func(page int, id int64) reply {
			return reply{out: cat(wrap(id, alice), wrap(id, []byte{0x65, 0x03, 0x0a, 0x01, 0x00}))}
		}, "protocol error: malformed Search Result Done", nil, 1},
		{"notice of disconnection", func(page int, id int64) reply {
			notice := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationExtendedResponse, nil, "Notice")
			notice.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 52, "Result Code"))
			notice.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Matched DN"))
			notice.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "shutting down", "Diagnostic"))
			return reply{out: cat(wrap(id, alice), wrap(0, notice.Bytes())), after: hangUp}
		}, "connection to the server lost: the server ended the session: unavailable: shutting down", ErrConnectionLost, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fakeServer(t, tc.respond)
			cfg := Config{URL: url, BaseDN: "dc=corp,dc=example", Timeout: 300 * time.Millisecond, PageSize: 1}
			for _, raw := range []bool{false, true} {
				n := 0
				var err error
				if raw {
					err = SearchRaw(t.Context(), cfg, users, nil, func(b []byte) error {
						n++
						return nil
					})
				} else {
					err = Search(t.Context(), cfg, users, nil, func(e *Entry) error {
						if e.Get("uid") == nil {
							t.Errorf("%s without a uid", e.DN)
						}
						n++
						return nil
					})
				}
				if n != tc.entries {
					t.Errorf("raw %v: fn saw %d entries, want %d", raw, n, tc.entries)
				}
				if tc.want == "" {
					if err != nil {
						t.Errorf("raw %v: Search = %v, want success", raw, err)
					}
					continue
				}
				var e *Error
				if !errors.As(err, &e) || e.Op != "search" {
					t.Fatalf("raw %v: Search = %#v, want a search *Error", raw, err)
				}
				if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ldap: search dc=corp,dc=example (page ") {
					t.Errorf("raw %v: error = %q, want it to contain %q", raw, err, tc.want)
				}
				for _, kind := range []error{ErrConnectionLost, ErrTimeout} {
					if errors.Is(err, kind) != (kind == tc.kind) {
						t.Errorf("raw %v: errors.Is(%q, %v) = %v", raw, err, kind, !(kind == tc.kind))
					}
				}
			}
		})
	}
}
