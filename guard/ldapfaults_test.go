package guard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/ldap/slapdtest"
	"github.com/syncguard/syncguard/store"
)

// LDAP protocol operation tags (RFC 4511, [APPLICATION n] constructed).
const (
	opSearchResultEntry = 0x64
	opSearchResultDone  = 0x65
)

// ldapReply is one LDAPMessage the server sent: its raw bytes, message ID
// and protocol operation tag.
type ldapReply struct {
	raw []byte
	id  int64
	op  byte
}

// proxyAction says what the proxy does with a server reply.
type proxyAction int

const (
	forward proxyAction = iota // pass it on
	stall                      // pass nothing more on this connection, keep it open
	replace                    // send the replacement instead
)

// ldapProxy sits between the engine and slapd and misbehaves on the
// server's replies as its decide function says: the first connection only
// (the cycle's); later connections are passed through.
type ldapProxy struct {
	URL    string
	decide func(r ldapReply, dones int) (proxyAction, []byte)

	mu    sync.Mutex
	conns []net.Conn
	n     int
}

// startLDAPProxy listens on loopback and forwards to srv.
func startLDAPProxy(t *testing.T, srv *slapdtest.Server, decide func(r ldapReply, dones int) (proxyAction, []byte)) *ldapProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ldapProxy{URL: "ldap://" + l.Addr().String(), decide: decide}
	upstream := strings.TrimPrefix(srv.URL, "ldap://")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.n++
			first := p.n == 1
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go p.replies(c, s, first)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

// replies forwards the server's messages to the client one by one.
func (p *ldapProxy) replies(client, server net.Conn, misbehave bool) {
	defer client.Close()
	dones := 0
	for {
		r, err := readLDAPMessage(server)
		if err != nil {
			return
		}
		if r.op == opSearchResultDone {
			dones++
		}
		act, repl := forward, []byte(nil)
		if misbehave {
			act, repl = p.decide(r, dones)
		}
		switch act {
		case stall:
			io.Copy(io.Discard, server) // keep reading so slapd is not the one stuck; send nothing
			return
		case replace:
			r.raw = repl
		}
		if _, err := client.Write(r.raw); err != nil {
			return
		}
	}
}

// readLDAPMessage reads one BER-encoded LDAPMessage.
func readLDAPMessage(r io.Reader) (ldapReply, error) {
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return ldapReply{}, err
	}
	if hdr[0] != 0x30 {
		return ldapReply{}, fmt.Errorf("not an LDAPMessage: tag %#x", hdr[0])
	}
	raw := hdr
	n := int(hdr[1])
	if n&0x80 != 0 {
		lenBytes := make([]byte, n&0x7f)
		if _, err := io.ReadFull(r, lenBytes); err != nil {
			return ldapReply{}, err
		}
		raw = append(raw, lenBytes...)
		n = 0
		for _, b := range lenBytes {
			n = n<<8 | int(b)
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return ldapReply{}, err
	}
	raw = append(raw, body...)
	// messageID INTEGER, then the protocolOp.
	if len(body) < 3 || body[0] != 0x02 || int(body[1])+2 >= len(body) {
		return ldapReply{}, errors.New("bad messageID")
	}
	var id int64
	for _, b := range body[2 : 2+body[1]] {
		id = id<<8 | int64(b)
	}
	return ldapReply{raw: raw, id: id, op: body[2+body[1]]}, nil
}

// searchDone encodes a SearchResultDone with a result code and message, and
// no controls (so no paging cookie), as a server that hit a limit sends it.
func searchDone(id int64, code byte, msg string) []byte {
	var op []byte
	op = append(op, 0x0a, 0x01, code) // resultCode ENUMERATED
	op = append(op, 0x04, 0x00)       // matchedDN ""
	op = append(op, berOctets(msg)...)
	var body []byte
	idBytes := binary.BigEndian.AppendUint32(nil, uint32(id))
	for len(idBytes) > 1 && idBytes[0] == 0 && idBytes[1] < 0x80 {
		idBytes = idBytes[1:]
	}
	body = append(body, 0x02, byte(len(idBytes)))
	body = append(body, idBytes...)
	body = append(body, opSearchResultDone)
	body = append(body, berLen(len(op))...)
	body = append(body, op...)
	return append(append([]byte{0x30}, berLen(len(body))...), body...)
}

func berOctets(s string) []byte { return append(append([]byte{0x04}, berLen(len(s))...), s...) }

func berLen(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	return []byte{0x82, byte(n >> 8), byte(n)}
}

// proxiedEnv starts slapd with the model of perOU users per OU and a
// configuration reading it through a misbehaving proxy, prevention off (so
// that a read taken as complete would delete), synced once. The proxy
// misbehaves from the second cycle on.
func proxiedEnv(t *testing.T, perOU int, decide func(r ldapReply, dones int) (proxyAction, []byte)) (*env, *ldapProxy) {
	t.Helper()
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: ldapDirectory(perOU).LDIF()})
	e := newLDAPEnv(t, srv, store.Basics{Prevent: false, Threshold: 1})
	first := e.runWant(store.OutcomeSucceeded)
	if want := 2*perOU + 4; first.Creates != want {
		t.Fatalf("first cycle created %d, want %d", first.Creates, want)
	}
	p := startLDAPProxy(t, srv, decide)
	cfg := e.config()
	cfg.Source = p.URL
	if err := e.st.UpdateConfiguration(t.Context(), cfg, "test"); err != nil {
		t.Fatal(err)
	}
	return e, p
}

// TestLDAPStallingServer: a server (or a network path) that sends the first
// page and then nothing more, keeping the connection open, ends the cycle as
// Failed within the configured timeout — the per-request Source.Timeout or
// the whole-cycle CycleTimeout, whichever comes first — and nothing is
// deleted, although prevention is off.
func TestLDAPStallingServer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		stall         func(entries, dones int, op byte) bool // entries forwarded so far
		sourceTimeout time.Duration
		cycleTimeout  time.Duration
		wantErr       []string
	}{
		{"after the first page, request timeout",
			func(entries, dones int, op byte) bool { return dones == 1 && op != opSearchResultDone },
			300 * time.Millisecond, time.Minute,
			[]string{"(page 2, after 50 entries)", "timed out after 300ms waiting for the server"}},
		{"mid-page, request timeout",
			func(entries, dones int, op byte) bool { return entries == 70 },
			300 * time.Millisecond, time.Minute,
			[]string{"(page 2, after 70 entries)", "timed out after 300ms"}},
		{"after the first page, cycle timeout",
			func(entries, dones int, op byte) bool { return dones == 1 && op != opSearchResultDone },
			time.Minute, 600 * time.Millisecond,
			[]string{"the cycle took longer than 600ms", "page 2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entries := 0
			e, _ := proxiedEnv(t, 60, func(r ldapReply, dones int) (proxyAction, []byte) {
				if tt.stall(entries, dones, r.op) {
					return stall, nil
				}
				if r.op == opSearchResultEntry {
					entries++
				}
				return forward, nil
			})
			e.eng.Source.Timeout, e.eng.CycleTimeout = tt.sourceTimeout, tt.cycleTimeout
			before := e.snapshot()
			start := time.Now()
			c := e.runWant(store.OutcomeFailed)
			took := time.Since(start)
			if limit := min(tt.sourceTimeout, tt.cycleTimeout); took < limit || took > limit+3*time.Second {
				t.Errorf("the cycle failed after %v, want about %v", took, limit)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(c.Error, w) {
					t.Errorf("cycle error %q lacks %q", c.Error, w)
				}
			}
			sameExceptStatus(t, before, e.snapshot())
			t.Logf("failed after %v: %s", took.Round(time.Millisecond), c.Error)
		})
	}
}

// TestLDAPResultLimits: a server that ends page 2 with a limit result (time
// limit exceeded, as slapd's timelimit sends it; admin limit exceeded, busy,
// unavailable) and no paging cookie has not sent the whole directory: the
// cycle fails, nothing is deleted.
func TestLDAPResultLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code byte
		text string
	}{
		{3, "time limit exceeded"},
		{11, "admin limit exceeded"},
		{51, "busy"},
		{52, "unavailable"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			e, _ := proxiedEnv(t, 60, func(r ldapReply, dones int) (proxyAction, []byte) {
				if r.op == opSearchResultDone && dones == 2 {
					return replace, searchDone(r.id, tt.code, "")
				}
				return forward, nil
			})
			before := e.snapshot()
			c := e.runWant(store.OutcomeFailed)
			if want := "(page 2, after 100 entries): " + tt.text; !strings.Contains(c.Error, want) {
				t.Errorf("cycle error %q lacks %q", c.Error, want)
			}
			sameExceptStatus(t, before, e.snapshot())
		})
	}
}

// TestLDAPReferrals: a scope whose base DN has become a referral to another
// server fails the cycle, with the referral in the message, and deletes
// nothing. A referral object below an in-scope OU is a continuation
// reference, which the reader skips (Active Directory returns them for its
// DNS and configuration partitions on every search from the domain root):
// the objects behind it are then missing from the read, and the guard
// decides, as for any smaller source.
func TestLDAPReferrals(t *testing.T) {
	t.Parallel()
	dir := ldapDirectory(6)
	srv := slapdtest.Start(t, slapdtest.Options{LDIF: dir.LDIF()})
	conn := srv.Conn(t)
	// Sales moves to another server: its users leave this one and a
	// referral takes the OU's place.
	moveSales := func(t *testing.T) {
		for _, u := range dir.Users {
			if u.OU == "Sales" {
				if err := conn.Del(goldap.NewDelRequest(u.DN(), nil)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := conn.Del(goldap.NewDelRequest("ou=Sales,"+baseDN, nil)); err != nil {
			t.Fatal(err)
		}
		add := goldap.NewAddRequest("ou=Sales,"+baseDN, nil)
		add.Attribute("objectClass", []string{"referral", "extensibleObject"})
		add.Attribute("ou", []string{"Sales"})
		add.Attribute("ref", []string{"ldap://other.example/ou=Sales,dc=corp,dc=example"})
		if err := conn.Add(add); err != nil {
			t.Fatal(err)
		}
	}
	base := newLDAPEnv(t, srv, store.Basics{Prevent: false, Threshold: 1}, "ou=Sales,"+baseDN, "ou=Engineering,"+baseDN)
	base.runWant(store.OutcomeSucceeded)
	below := newLDAPEnv(t, srv, store.Basics{Prevent: true, Threshold: 5})
	below.runWant(store.OutcomeSucceeded)
	moveSales(t)

	t.Run("base DN is a referral", func(t *testing.T) {
		before := base.snapshot()
		c := base.runWant(store.OutcomeFailed)
		want := "ldap: search ou=Sales,dc=corp,dc=example (page 1, after 0 entries): referral returned by the server (not followed): " +
			"ldap://other.example/ou=Sales,dc=corp,dc=example"
		if !strings.Contains(c.Error, want) {
			t.Errorf("cycle error %q lacks %q", c.Error, want)
		}
		sameExceptStatus(t, before, base.snapshot())
	})
	t.Run("referral below the base", func(t *testing.T) {
		before := below.snapshot()
		c := below.runWant(store.OutcomeQuarantined)
		if c.StagedDeletes != 6 {
			t.Errorf("staged %d deletes, want the 6 Sales users", c.StagedDeletes)
		}
		if got := below.objects(); len(got) != len(before.Objects) {
			t.Errorf("target has %d objects, want %d", len(got), len(before.Objects))
		}
	})
}
