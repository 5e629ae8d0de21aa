package ldap

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// handler is what a search does with each SearchResultEntry: Search decodes
// it into e for fn, SearchRaw only checks it and hands fnRaw its bytes.
type handler struct {
	d     *decoder
	e     *Entry // nil for SearchRaw
	fn    func(*Entry) error
	fnRaw func([]byte) error
	raw   []byte       // the entry's bytes: the message's, or a copy followed by its further ranges
	buf   []byte       // holds the copy
	todo  []rangeStart // the ranged attributes of the entry
	scope int          // the search's scope, as LDAP encodes it
}

// read checks (and for Search decodes) the entry in m and reads the further
// values of its ranged attributes. A malformed entry breaks the session.
func (h *handler) read(ctx context.Context, s *session, m message) error {
	var err error
	if h.e != nil {
		err = h.d.decode(m.body, h.e)
	} else {
		err = h.d.scan(m.body)
	}
	if err != nil {
		s.broken = true
		return err
	}
	h.raw = m.raw
	if h.d.ranged {
		return h.readRanges(ctx, s, m.raw)
	}
	return nil
}

// call hands the entry read to fn.
func (h *handler) call() error {
	if h.e != nil {
		h.e.Raw = h.raw
		return h.fn(h.e)
	}
	return h.fnRaw(h.raw)
}

// rangeStart is an attribute whose values came in ranges (MS-ADTS
// 3.1.1.3.1.3.3): where it is in the entry, its name without the range
// option, and the index of the first value not yet read (-1: none left).
type rangeStart struct {
	i    int
	name string
	next int
}

// hasRange reports whether an attribute description carries a range option
// (";range=" in any case and something after it). The decoder asks it of
// every attribute: it allocates nothing and skips to each ';'.
func hasRange(desc []byte) bool {
	const opt = "range="
	for {
		i := bytes.IndexByte(desc, ';')
		if i < 0 {
			return false
		}
		desc = desc[i+1:]
		if len(desc) <= len(opt) {
			return false
		}
		j := 0
		for j < len(opt) && desc[j]|0x20 == opt[j] {
			j++
		}
		if j == len(opt) {
			return true
		}
	}
}

// parseRange splits an attribute description with a range option, such as
// member;range=0-1499 or member;range=1500-*, into the description without
// it and the range's bounds; high is -1 for "*".
func parseRange(desc string) (name string, low, high int, ok bool) {
	for i := 0; i < len(desc); i++ {
		if desc[i] != ';' || !strings.HasPrefix(strings.ToLower(desc[i+1:]), "range=") {
			continue
		}
		opt, rest := desc[i+len(";range="):], ""
		if j := strings.IndexByte(opt, ';'); j >= 0 {
			opt, rest = opt[:j], opt[j:]
		}
		lo, hi, found := strings.Cut(opt, "-")
		var err error
		if low, err = strconv.Atoi(lo); !found || err != nil || low < 0 {
			return "", 0, 0, false
		}
		if hi == "*" {
			high = -1
		} else if high, err = strconv.Atoi(hi); err != nil || high < low {
			return "", 0, 0, false
		}
		return desc[:i] + rest, low, high, true
	}
	return "", 0, 0, false
}

// ranged lists the entry's ranged attributes and returns its DN.
func (h *handler) ranged() (string, error) {
	h.todo = h.todo[:0]
	add := func(i int, desc string) error {
		name, _, high, ok := parseRange(desc)
		if !ok {
			return malformed("attribute %q: a range option that is not low-high or low-*", desc)
		}
		next := -1
		if high >= 0 {
			next = high + 1
		}
		h.todo = append(h.todo, rangeStart{i: i, name: name, next: next})
		return nil
	}
	// The decoder's attributes are the entry's, in the same order.
	for i, a := range h.d.attrs {
		if hasRange(a.name) {
			if err := add(i, string(a.name)); err != nil {
				return "", err
			}
		}
	}
	return string(h.d.vals[0]), nil
}

// readRanges reads the values the entry's ranged attributes left out, range
// after range, on the session's second connection, while the first waits in
// the middle of its page: the entry's message stays valid, nothing is
// buffered and fn still sees the entries in the server's order. Search gets
// the values under the attribute's plain name; both get raw followed by the
// bytes of each further range.
func (h *handler) readRanges(ctx context.Context, s *session, raw []byte) error {
	dn, err := h.ranged()
	if err != nil {
		s.broken = true
		return err
	}
	h.buf = append(h.buf[:0], raw...)
	for _, t := range h.todo {
		var vals *[]string
		if h.e != nil {
			a := &h.e.Attrs[t.i]
			a.Name = t.name
			vals = &a.Values
		}
		for next := t.next; next >= 0; {
			if next, err = s.readRange(ctx, dn, t.name, next, &h.buf, vals); err != nil {
				return err
			}
		}
	}
	h.raw = h.buf
	return nil
}

// readRange reads the values of attribute name of entry dn from index low
// on, as far as the server sends them, on the second connection (opened
// and bound at the first call): it appends the entry's bytes to raw and,
// when vals is not nil, the values to vals, and returns the index of the
// next value to read (-1: the last range was read). A failure is a
// *rangeError.
func (s *session) readRange(ctx context.Context, dn, name string, low int, raw *[]byte, vals *[]string) (int, error) {
	what := fmt.Sprintf("reading the values of %s of %s from %d on", name, dn, low)
	if s.ranges == nil {
		r, err := open(ctx, s.cfg, s.t)
		if err != nil {
			e := err.(*Error)
			return 0, &rangeError{text: what + ": " + strings.TrimPrefix(e.msg, "ldap: "), err: e}
		}
		s.ranges, r.d = r, newDecoder()
	}
	next, err := s.ranges.fetchRange(dn, name, low, raw, vals)
	if err != nil {
		e := s.ranges.fail(ctx, "search", what, err).(*Error)
		return 0, &rangeError{text: e.msg, err: e}
	}
	return next, nil
}

// fetchRange asks for the values of attribute name of entry dn from low on
// with a base search (member;range=1500-*) and reads the answer: see
// readRange.
func (s *session) fetchRange(dn, name string, low int, raw *[]byte, vals *[]string) (int, error) {
	present := ber.NewString(ber.ClassContext, ber.TypePrimitive, ldapv3.FilterPresent, "objectClass", "Present")
	req := searchRequest(dn, ldapv3.ScopeBaseObject, present, []string{name + ";range=" + strconv.Itoa(low) + "-*"})
	id, err := s.send(req, nil)
	if err != nil {
		return 0, err
	}
	next, found := 0, false
	for {
		m, err := s.read(id)
		if err != nil {
			return 0, err
		}
		switch m.op {
		case opSearchEntry:
			if err := s.d.decode(m.body, &s.e); err != nil {
				s.broken = true
				return 0, err
			}
			*raw = append(*raw, m.raw...)
			for _, a := range s.e.Attrs {
				n, lo, hi, ok := parseRange(a.Name)
				if !ok || !strings.EqualFold(n, name) || found {
					continue
				}
				if lo != low {
					return 0, protoErrorf("asked for the values of %s from %d on, got %s", name, low, a.Name)
				}
				if vals != nil {
					*vals = append(*vals, a.Values...)
				}
				next, found = -1, true
				if hi >= 0 {
					next = hi + 1
				}
			}
		case opSearchRef, opIntermediate:
		case opSearchDone:
			if _, err := result(m, opSearchDone); err != nil {
				return 0, err
			}
			if !found {
				return 0, fmt.Errorf("the server sent no values of %s from %d on: did they change while they were read?", name, low)
			}
			return next, nil
		default:
			s.broken = true
			return 0, protoErrorf("%s in answer to a search", opName(m.op))
		}
	}
}

// rangeError is a failure to read a further range of values: what was
// being read and why, and the failure on the second connection.
type rangeError struct {
	text string
	err  *Error
}

func (e *rangeError) Error() string { return e.text }

func (e *rangeError) Unwrap() error { return e.err }
