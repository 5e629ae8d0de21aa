package ldap

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// conn is one connection on which the writer speaks LDAP itself, one
// request at a time: a pooled connection serves one call at a time, so a
// request is encoded straight into a reused buffer and its answer read on
// the caller's goroutine. go-ldap's Conn, which builds a packet tree for
// every request and hands each message through two goroutines, cost the
// writer six times ldapadd's CPU and up to twice its time on a busy
// machine (see BenchmarkExport); this costs half as much. go-ldap's
// request types, result codes, DN and filter parsing, and asn1-ber's
// decoding of the (small) answers are still used.
type conn struct {
	raw    net.Conn // the TCP connection, closed to cut a call short
	nc     net.Conn // raw, or TLS over it
	r      *bufio.Reader
	id     int64
	e      encoder
	broken bool // an I/O or protocol error: not to be used again
	reused bool // taken from the idle connections rather than dialled
}

func newConn(raw net.Conn) *conn {
	return &conn{raw: raw, nc: raw, r: bufio.NewReaderSize(raw, 16<<10)}
}

// useTLS puts TLS (its handshake done) under the connection.
func (c *conn) useTLS(tc net.Conn) {
	c.nc = tc
	c.r.Reset(tc)
}

// Close says goodbye (an unbind, best effort) and closes the connection.
func (c *conn) Close() error {
	if !c.broken {
		c.start(0x40 | ldapv3.ApplicationUnbindRequest)
		c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		c.send()
	}
	return c.raw.Close()
}

// Bind is a simple bind.
func (c *conn) Bind(dn, password string) error {
	c.start(0x60 | ldapv3.ApplicationBindRequest)
	c.e.integer(tagInteger, 3)
	c.e.octets(tagOctets, dn)
	c.e.octets(0x80, password) // [0] simple
	return c.result(ldapv3.ApplicationBindResponse)
}

// StartTLS asks for TLS (RFC 4511 4.14); the caller does the handshake.
func (c *conn) StartTLS() error {
	c.start(0x60 | ldapv3.ApplicationExtendedRequest)
	c.e.octets(0x80, "1.3.6.1.4.1.1466.20037") // [0] requestName
	return c.result(ldapv3.ApplicationExtendedResponse)
}

// Add adds req.DN with the attributes that have values.
func (c *conn) Add(req *ldapv3.AddRequest) error {
	c.start(0x60 | ldapv3.ApplicationAddRequest)
	c.e.octets(tagOctets, req.DN)
	c.e.begin(tagSequence)
	for _, a := range req.Attributes {
		if len(a.Vals) > 0 {
			c.e.attribute(a.Type, a.Vals)
		}
	}
	c.e.end()
	return c.result(ldapv3.ApplicationAddResponse)
}

// Modify applies req's changes (add, delete, replace…) in one request.
func (c *conn) Modify(req *ldapv3.ModifyRequest) error {
	c.start(0x60 | ldapv3.ApplicationModifyRequest)
	c.e.octets(tagOctets, req.DN)
	c.e.begin(tagSequence)
	for _, ch := range req.Changes {
		c.e.begin(tagSequence)
		c.e.integer(tagEnumerated, int64(ch.Operation))
		c.e.attribute(ch.Modification.Type, ch.Modification.Vals)
		c.e.end()
	}
	c.e.end()
	return c.result(ldapv3.ApplicationModifyResponse)
}

// ModifyDN renames and moves req.DN.
func (c *conn) ModifyDN(req *ldapv3.ModifyDNRequest) error {
	c.start(0x60 | ldapv3.ApplicationModifyDNRequest)
	c.e.octets(tagOctets, req.DN)
	c.e.octets(tagOctets, req.NewRDN)
	c.e.boolean(req.DeleteOldRDN)
	if req.NewSuperior != "" {
		c.e.octets(0x80, req.NewSuperior) // [0] newSuperior
	}
	return c.result(ldapv3.ApplicationModifyDNResponse)
}

// Del deletes req.DN.
func (c *conn) Del(req *ldapv3.DelRequest) error {
	c.start(0x40 | ldapv3.ApplicationDelRequest) // primitive: the DN is the content
	c.e.b = append(c.e.b, req.DN...)
	return c.result(ldapv3.ApplicationDelResponse)
}

// Search returns the entries req finds (search result references are
// ignored); an error result comes with the entries read before it.
func (c *conn) Search(req *ldapv3.SearchRequest) (*ldapv3.SearchResult, error) {
	filter, err := ldapv3.CompileFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	c.start(0x60 | ldapv3.ApplicationSearchRequest)
	c.e.octets(tagOctets, req.BaseDN)
	c.e.integer(tagEnumerated, int64(req.Scope))
	c.e.integer(tagEnumerated, int64(req.DerefAliases))
	c.e.integer(tagInteger, int64(req.SizeLimit))
	c.e.integer(tagInteger, int64(req.TimeLimit))
	c.e.boolean(req.TypesOnly)
	c.e.b = append(c.e.b, filter.Bytes()...)
	c.e.begin(tagSequence)
	for _, a := range req.Attributes {
		c.e.octets(tagOctets, a)
	}
	c.e.end()
	if err := c.send(); err != nil {
		return nil, err
	}
	res := &ldapv3.SearchResult{}
	for {
		p, op, err := c.read()
		if err != nil {
			return res, err
		}
		switch op {
		case ldapv3.ApplicationSearchResultEntry:
			e, err := decodeEntry(p.Children[1])
			if err != nil {
				c.broken = true
				return res, err
			}
			res.Entries = append(res.Entries, e)
		case ldapv3.ApplicationSearchResultReference:
		case ldapv3.ApplicationSearchResultDone:
			return res, ldapv3.GetLDAPError(p)
		default:
			c.broken = true
			return res, fmt.Errorf("protocol error: response %d to a search", op)
		}
	}
}

// decodeEntry reads a SearchResultEntry: objectName, then attributes.
func decodeEntry(p *ber.Packet) (*ldapv3.Entry, error) {
	if len(p.Children) < 2 {
		return nil, errors.New("protocol error: malformed search result entry")
	}
	dn, _ := p.Children[0].Value.(string)
	attrs := map[string][]string{}
	for _, a := range p.Children[1].Children {
		if len(a.Children) < 2 {
			return nil, errors.New("protocol error: malformed attribute in a search result entry")
		}
		name, _ := a.Children[0].Value.(string)
		for _, v := range a.Children[1].Children {
			attrs[name] = append(attrs[name], v.Data.String())
		}
	}
	return ldapv3.NewEntry(dn, attrs), nil
}

// start begins a request: the LDAPMessage with the next message ID, and
// the protocolOp with tag op; send (or result) closes them.
func (c *conn) start(op byte) {
	c.e.reset()
	c.e.begin(tagSequence)
	c.id++
	c.e.integer(tagInteger, c.id)
	c.e.begin(op)
}

// send closes the request and writes it.
func (c *conn) send() error {
	c.e.end()
	c.e.end()
	if _, err := c.nc.Write(c.e.b); err != nil {
		c.broken = true
		return err
	}
	return nil
}

// result sends the request and returns the error of its answer, which
// must be the response op want: nil for success, *ldapv3.Error for any
// other result code.
func (c *conn) result(want uint8) error {
	if err := c.send(); err != nil {
		return err
	}
	p, op, err := c.read()
	if err != nil {
		return err
	}
	if op != want {
		c.broken = true
		return fmt.Errorf("protocol error: response %d where %d was expected", op, want)
	}
	return ldapv3.GetLDAPError(p)
}

// read returns the next message, which must answer the last request, and
// its protocolOp's tag.
func (c *conn) read() (*ber.Packet, uint8, error) {
	p, err := ber.ReadPacket(c.r)
	if err != nil {
		c.broken = true
		return nil, 0, err
	}
	if len(p.Children) < 2 {
		c.broken = true
		return nil, 0, errors.New("protocol error: malformed message")
	}
	id, _ := p.Children[0].Value.(int64)
	op := uint8(p.Children[1].Tag)
	if id == 0 && op == ldapv3.ApplicationExtendedResponse {
		// The notice of disconnection (RFC 4511 4.4.1): the server's last word.
		c.broken = true
		return nil, 0, fmt.Errorf("the server ended the session: %v", ldapv3.GetLDAPError(p))
	}
	if id != c.id {
		c.broken = true
		return nil, 0, fmt.Errorf("protocol error: a response to message %d while waiting for %d", id, c.id)
	}
	return p, op, nil
}

// BER tags of the universal types LDAP uses.
const (
	tagBoolean    = 0x01
	tagInteger    = 0x02
	tagOctets     = 0x04
	tagEnumerated = 0x0a
	tagSequence   = 0x30
	tagSet        = 0x31
)

// encoder writes BER (definite, minimal lengths) into one reused buffer.
// begin opens a constructed element and end closes it, moving its
// content when its length needs more than one byte.
type encoder struct {
	b     []byte
	stack []int // where the content of each open element starts
}

func (e *encoder) reset() {
	e.b, e.stack = e.b[:0], e.stack[:0]
}

func (e *encoder) begin(tag byte) {
	e.b = append(e.b, tag, 0)
	e.stack = append(e.stack, len(e.b))
}

func (e *encoder) end() {
	start := e.stack[len(e.stack)-1]
	e.stack = e.stack[:len(e.stack)-1]
	n := len(e.b) - start
	if n < 0x80 {
		e.b[start-1] = byte(n)
		return
	}
	k := lengthBytes(n)
	for range k {
		e.b = append(e.b, 0)
	}
	copy(e.b[start+k:], e.b[start:start+n])
	e.b[start-1] = 0x80 | byte(k)
	for i := range k {
		e.b[start+i] = byte(n >> (8 * (k - 1 - i)))
	}
}

func lengthBytes(n int) int {
	k := 0
	for ; n > 0; n >>= 8 {
		k++
	}
	return k
}

func (e *encoder) length(n int) {
	if n < 0x80 {
		e.b = append(e.b, byte(n))
		return
	}
	k := lengthBytes(n)
	e.b = append(e.b, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		e.b = append(e.b, byte(n>>(8*i)))
	}
}

func (e *encoder) octets(tag byte, s string) {
	e.b = append(e.b, tag)
	e.length(len(s))
	e.b = append(e.b, s...)
}

// integer writes a non-negative INTEGER or ENUMERATED in as few bytes as
// two's complement allows.
func (e *encoder) integer(tag byte, v int64) {
	k := 1
	for x := v; x > 0x7f; x >>= 8 {
		k++
	}
	e.b = append(e.b, tag, byte(k))
	for i := k - 1; i >= 0; i-- {
		e.b = append(e.b, byte(v>>(8*i)))
	}
}

func (e *encoder) boolean(v bool) {
	b := byte(0)
	if v {
		b = 0xff
	}
	e.b = append(e.b, tagBoolean, 1, b)
}

// attribute writes an Attribute / PartialAttribute: type and a set of values.
func (e *encoder) attribute(typ string, vals []string) {
	e.begin(tagSequence)
	e.octets(tagOctets, typ)
	e.begin(tagSet)
	for _, v := range vals {
		e.octets(tagOctets, v)
	}
	e.end()
	e.end()
}
