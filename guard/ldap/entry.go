package ldap

import (
	"fmt"
	"strings"
)

// Attr is one attribute of an entry: its name as the server spelled it and
// its values (binary values as raw bytes in a string).
type Attr struct {
	Name   string
	Values []string
}

// Entry is one search result entry. Search reuses the Entry and its slices
// between calls of fn; the strings are never reused.
type Entry struct {
	DN    string
	Attrs []Attr
	// Raw is the SearchResultEntry protocol op exactly as the server
	// encoded it — the [APPLICATION 4] element, tag and length included,
	// without the LDAPMessage envelope, message ID or controls — so that an
	// unchanged entry gives the same bytes in every search. Valid only
	// during fn.
	Raw []byte
}

// Get returns the values of the attribute called name (case-insensitive),
// or nil.
func (e *Entry) Get(name string) []string {
	for i := range e.Attrs {
		if strings.EqualFold(e.Attrs[i].Name, name) {
			return e.Attrs[i].Values
		}
	}
	return nil
}

// chunkSize bounds the strings the decoder copies values into. The DN and
// the values of an entry are packed, in order, into strings of at most
// chunkSize bytes (a longer value gets a string of its own) and handed out
// as substrings: a few allocations per entry rather than one per value,
// while a caller keeping one short value (a DN, a uid) keeps at most
// chunkSize bytes of the entry alive, not the whole entry.
const chunkSize = 256

// maxNames bounds the attribute names a decoder interns.
const maxNames = 4096

// decoder decodes SearchResultEntry operations. It keeps its slices and the
// attribute names it has seen from one entry to the next.
type decoder struct {
	names map[string]string
	attrs []attrPos
	vals  [][]byte // the DN, then every value in order; into the message buffer
	strs  []string // vals as strings: the backing of the Values handed out
	// ranged: an attribute of the entry came with a range option
	// (member;range=0-1499): the server holds more values than it sent.
	ranged bool
}

// attrPos is where an attribute's name and values are.
type attrPos struct {
	name     []byte
	first, n int // its values are vals[first:first+n]
}

func newDecoder() *decoder { return &decoder{names: map[string]string{}} }

func malformed(format string, args ...any) error {
	return protoErrorf("malformed SearchResultEntry: "+format, args...)
}

// scan checks that body, the content of a SearchResultEntry (RFC 4511
// 4.5.2), is well formed and records where its DN, attribute names and
// values are. It allocates nothing once its slices have grown.
func (d *decoder) scan(body []byte) error {
	d.attrs = d.attrs[:0]
	d.vals = d.vals[:0]
	d.ranged = false
	tag, dn, rest, _, err := element(body)
	if err != nil || tag != tagOctetString {
		return malformed("objectName: %s", why(tag, err))
	}
	d.vals = append(d.vals, dn)
	tag, list, rest, _, err := element(rest)
	if err != nil || tag != tagSequence {
		return malformed("%q: attributes: %s", dn, why(tag, err))
	}
	if len(rest) > 0 {
		return malformed("%q: %d bytes after the attributes", dn, len(rest))
	}
	for len(list) > 0 {
		var pa, name, set []byte
		tag, pa, list, _, err = element(list)
		if err != nil || tag != tagSequence {
			return malformed("%q: attribute %d: %s", dn, len(d.attrs)+1, why(tag, err))
		}
		tag, name, pa, _, err = element(pa)
		if err != nil || tag != tagOctetString {
			return malformed("%q: attribute %d: type: %s", dn, len(d.attrs)+1, why(tag, err))
		}
		tag, set, pa, _, err = element(pa)
		if err != nil || tag != tagSet {
			return malformed("%q: attribute %q: vals: %s", dn, name, why(tag, err))
		}
		if len(pa) > 0 {
			return malformed("%q: attribute %q: %d bytes after its values", dn, name, len(pa))
		}
		if !d.ranged && hasRange(name) {
			d.ranged = true
		}
		a := attrPos{name: name, first: len(d.vals)}
		for len(set) > 0 {
			var v []byte
			tag, v, set, _, err = element(set)
			if err != nil || tag != tagOctetString {
				return malformed("%q: attribute %q: value %d: %s", dn, name, len(d.vals)-a.first+1, why(tag, err))
			}
			d.vals = append(d.vals, v)
		}
		a.n = len(d.vals) - a.first
		d.attrs = append(d.attrs, a)
	}
	return nil
}

// why says what is wrong with an element: err, or its unexpected tag.
func why(tag byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("unexpected tag %#02x", tag)
}

// decode decodes body, the content of a SearchResultEntry, into e.
func (d *decoder) decode(body []byte, e *Entry) error {
	if err := d.scan(body); err != nil {
		return err
	}
	d.strs = d.strs[:0]
	start, size := 0, 0
	for i, v := range d.vals {
		switch {
		case len(v) > chunkSize:
			d.pack(start, i)
			d.strs = append(d.strs, string(v))
			start, size = i+1, 0
			continue
		case size+len(v) > chunkSize:
			d.pack(start, i)
			start, size = i, 0
		}
		size += len(v)
	}
	d.pack(start, len(d.vals))

	e.DN = d.strs[0]
	e.Attrs = e.Attrs[:0]
	for _, a := range d.attrs {
		e.Attrs = append(e.Attrs, Attr{Name: d.name(a.name), Values: d.strs[a.first : a.first+a.n : a.first+a.n]})
	}
	return nil
}

// pack appends vals[start:end] to strs as substrings of one new string.
func (d *decoder) pack(start, end int) {
	switch end - start {
	case 0:
		return
	case 1:
		d.strs = append(d.strs, string(d.vals[start]))
		return
	}
	n := 0
	for _, v := range d.vals[start:end] {
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range d.vals[start:end] {
		b.Write(v)
	}
	s, off := b.String(), 0
	for _, v := range d.vals[start:end] {
		d.strs = append(d.strs, s[off:off+len(v)])
		off += len(v)
	}
}

// name returns the attribute name b as an interned string.
func (d *decoder) name(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.names) < maxNames {
		d.names[s] = s
	}
	return s
}
