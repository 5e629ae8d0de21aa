package ldap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// LDAP protocol operation tags as they appear on the wire (RFC 4511,
// [APPLICATION n]; constructed unless noted).
const (
	tagSequence     = 0x30
	tagInteger      = 0x02
	tagOctetString  = 0x04
	tagSet          = 0x31
	tagControls     = 0xa0 // [0] constructed, after the protocolOp
	opBindResponse  = 0x61
	opSearchEntry   = 0x64
	opSearchDone    = 0x65
	opSearchRef     = 0x73
	opExtendedResp  = 0x78
	opIntermediate  = 0x79
	opUnbindRequest = 0x42 // primitive NULL
)

// maxMessage is the largest LDAPMessage read: a longer length is taken for
// a corrupt stream rather than allocated.
const maxMessage = 64 << 20

// readBufferSize is the size of the buffered reader over the connection.
const readBufferSize = 64 << 10

// protocolError is a message the server sent that does not follow RFC 4511.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "protocol error: " + e.msg }

func protoErrorf(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// message is one LDAPMessage as read. Its slices point into the reader's
// buffer: valid until the next read.
type message struct {
	all  []byte // the whole LDAPMessage, envelope included
	id   int64
	op   byte   // protocolOp tag
	raw  []byte // the protocolOp element, tag and length included
	body []byte // the protocolOp's content
}

// waitReader reads from the connection, setting a read deadline of timeout
// at the first network read of each message: a message must arrive whole
// within timeout of the client starting to wait for it; time spent between
// messages (in fn) does not count.
type waitReader struct {
	conn    net.Conn
	timeout time.Duration
	fresh   bool // a new message started: the next network read sets a deadline
}

func (w *waitReader) Read(p []byte) (int, error) {
	if w.fresh {
		if err := w.conn.SetReadDeadline(time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
		w.fresh = false
	}
	return w.conn.Read(p)
}

// msgReader reads LDAPMessages from a connection into a reusable buffer.
type msgReader struct {
	w   waitReader
	br  *bufio.Reader
	buf []byte
}

func newMsgReader(c net.Conn, timeout time.Duration) *msgReader {
	r := &msgReader{w: waitReader{conn: c, timeout: timeout}}
	r.br = bufio.NewReaderSize(&r.w, readBufferSize)
	return r
}

// reset makes r read from c (after StartTLS); nothing may be buffered.
func (r *msgReader) reset(c net.Conn) error {
	if n := r.br.Buffered(); n > 0 {
		return protoErrorf("%d unexpected bytes after the StartTLS response", n)
	}
	r.w.conn = c
	r.br.Reset(&r.w)
	return nil
}

// next reads one LDAPMessage. An I/O error is returned as is (io.EOF: the
// connection closed cleanly between two messages; io.ErrUnexpectedEOF: in
// the middle of one); a malformed message is a *protocolError.
func (r *msgReader) next() (message, error) {
	r.w.fresh = true
	var hdr [6]byte
	tag, err := r.br.ReadByte()
	if err != nil {
		return message{}, err
	}
	if tag != tagSequence {
		return message{}, protoErrorf("a message starts with tag %#02x, not an LDAPMessage SEQUENCE", tag)
	}
	hdr[0] = tag
	first, err := r.br.ReadByte()
	if err != nil {
		return message{}, unexpected(err)
	}
	hdr[1] = first
	h := 2
	n := int(first)
	if first >= 0x80 {
		k := int(first & 0x7f)
		switch {
		case k == 0:
			return message{}, protoErrorf("indefinite length in an LDAPMessage")
		case k > 4:
			return message{}, protoErrorf("an LDAPMessage length encoded in %d bytes", k)
		}
		n = 0
		for ; h < 2+k; h++ {
			b, err := r.br.ReadByte()
			if err != nil {
				return message{}, unexpected(err)
			}
			hdr[h] = b
			n = n<<8 | int(b)
		}
	}
	if n > maxMessage {
		return message{}, protoErrorf("a message of %d bytes (limit %d MiB)", n, maxMessage>>20)
	}
	if cap(r.buf) < h+n {
		r.buf = make([]byte, h+n, max(h+n, 2*cap(r.buf)))
	}
	r.buf = r.buf[:h+n]
	copy(r.buf, hdr[:h])
	if _, err := io.ReadFull(r.br, r.buf[h:]); err != nil {
		return message{}, unexpected(err)
	}
	return parseMessage(r.buf, h)
}

// unexpected turns an EOF inside a message into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseMessage splits an LDAPMessage (RFC 4511 4.1.1) whose content starts
// at h into its message ID and protocolOp; controls, if any, are checked
// for framing only.
func parseMessage(all []byte, h int) (message, error) {
	m := message{all: all}
	tag, idBytes, rest, _, err := element(all[h:])
	if err != nil {
		return m, protoErrorf("LDAPMessage: %v", err)
	}
	if tag != tagInteger || len(idBytes) == 0 || len(idBytes) > 4 || idBytes[0]&0x80 != 0 {
		return m, protoErrorf("LDAPMessage without a valid messageID")
	}
	for _, b := range idBytes {
		m.id = m.id<<8 | int64(b)
	}
	op, body, after, oh, err := element(rest)
	if err != nil {
		return m, protoErrorf("LDAPMessage %d: protocolOp: %v", m.id, err)
	}
	if op&0xc0 != 0x40 {
		return m, protoErrorf("LDAPMessage %d: protocolOp with tag %#02x", m.id, op)
	}
	m.op, m.body, m.raw = op, body, rest[:oh+len(body)]
	if len(after) > 0 {
		ctag, _, trailing, _, err := element(after)
		if err != nil || ctag != tagControls || len(trailing) > 0 {
			return m, protoErrorf("LDAPMessage %d: bytes after the protocolOp that are not controls", m.id)
		}
	}
	return m, nil
}

var (
	errTruncated  = errors.New("element longer than its container")
	errIndefinite = errors.New("indefinite length")
	errLongTag    = errors.New("multi-byte tag")
	errLongLength = errors.New("length of more than 4 bytes")
)

// element splits b into its first BER element (a one-byte tag and a
// definite length, short or long form) and what follows: tag, content,
// rest and the length of the element's header.
func element(b []byte) (tag byte, content, rest []byte, hdr int, err error) {
	if len(b) < 2 {
		return 0, nil, nil, 0, errTruncated
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, 0, errLongTag
	}
	n, h := int(b[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		switch {
		case k == 0:
			return 0, nil, nil, 0, errIndefinite
		case k > 4:
			return 0, nil, nil, 0, errLongLength
		case len(b) < 2+k:
			return 0, nil, nil, 0, errTruncated
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		h += k
	}
	if n < 0 || n > len(b)-h {
		return 0, nil, nil, 0, errTruncated
	}
	return tag, b[h : h+n], b[h+n:], h, nil
}
