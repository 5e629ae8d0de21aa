package guard

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
	"unicode/utf8"
)

// attrKV is one synced attribute of an entry: its first spelling, its
// lower-case name and its values.
type attrKV struct {
	key, low string
	vals     []string
	pos      int // index in Entry.Attrs
}

// encoder computes an entry's content hash and the JSON of its attributes
// in one pass, with buffers reused from entry to entry, without building a
// map of them. The content hash covers the type, the normalized DN and the
// synced attributes, each name lower-cased, in name order, and the values of
// each as a set (their order does not count): planning compares one short
// string per object. TestEncoder checks both against a plain version built
// on attributes(e).
type encoder struct {
	lower map[string]string // attribute name → lower case
	kvs   []attrKV
	// The shape of the last entry loaded the long way: its attribute
	// names in order and, in sorted order, where each synced one sits.
	// A directory writes entries of one kind with the same attributes in
	// the same order, so most entries skip the lookups and the sort.
	shapeNames []string
	shapeLow   []string
	shapePos   []int
	vals       []string
	buf        []byte
	h          hash.Hash
	sum        []byte
}

func newEncoder() *encoder {
	return &encoder{lower: make(map[string]string), h: sha256.New()}
}

func (c *encoder) low(name string) string {
	if l, ok := c.lower[name]; ok {
		return l
	}
	l := strings.ToLower(name)
	if len(c.lower) < 4096 {
		c.lower[strings.Clone(name)] = l
	}
	return l
}

// entryHash returns the content hash of e; encoded then returns the JSON of
// its attributes, only for the entries that changed.
func (c *encoder) entryHash(typ, norm string, e *Entry) string {
	c.load(e)
	return c.hash(typ, norm)
}

func (c *encoder) load(e *Entry) {
	if c.loadShape(e) {
		return
	}
	c.kvs = c.kvs[:0]
	cacheable := true
	for pos, a := range e.Attrs {
		if len(a.Values) == 0 {
			cacheable = false
			continue
		}
		low := c.low(a.Name)
		if skippedName(low, a.Name) {
			continue
		}
		vals := textValues(a.Values)
		merged := false
		for i := range c.kvs {
			if c.kvs[i].low == low {
				c.kvs[i].vals = append(slices.Clip(c.kvs[i].vals), vals...)
				merged = true
				cacheable = false
				break
			}
		}
		if !merged {
			c.kvs = append(c.kvs, attrKV{key: a.Name, low: low, vals: vals, pos: pos})
		}
	}
	slices.SortFunc(c.kvs, func(a, b attrKV) int { return strings.Compare(a.low, b.low) })
	c.shapeNames = c.shapeNames[:0]
	if cacheable {
		for _, a := range e.Attrs {
			c.shapeNames = append(c.shapeNames, a.Name)
		}
		c.shapeLow, c.shapePos = c.shapeLow[:0], c.shapePos[:0]
		for _, kv := range c.kvs {
			c.shapeLow, c.shapePos = append(c.shapeLow, kv.low), append(c.shapePos, kv.pos)
		}
	}
}

// loadShape loads e the short way when it has the shape of the cached
// entry: the same attribute names in the same order, each with values.
func (c *encoder) loadShape(e *Entry) bool {
	if len(c.shapeNames) == 0 || len(e.Attrs) != len(c.shapeNames) {
		return false
	}
	for i := range e.Attrs {
		if len(e.Attrs[i].Values) == 0 || e.Attrs[i].Name != c.shapeNames[i] {
			return false
		}
	}
	c.kvs = c.kvs[:0]
	for k, pos := range c.shapePos {
		a := &e.Attrs[pos]
		c.kvs = append(c.kvs, attrKV{key: a.Name, low: c.shapeLow[k], vals: textValues(a.Values), pos: pos})
	}
	return true
}

// textValues returns vals with the values that are not UTF-8 text as
// "base64:…", as attributes does.
func textValues(vals []string) []string {
	for i, v := range vals {
		if !utf8.ValidString(v) {
			vals = slices.Clone(vals)
			for j := i; j < len(vals); j++ {
				if !utf8.ValidString(vals[j]) {
					vals[j] = "base64:" + base64.StdEncoding.EncodeToString([]byte(vals[j]))
				}
			}
			break
		}
	}
	return vals
}

// object returns the content hash and the JSON of an attribute map.
func (c *encoder) object(typ, norm string, attrs map[string][]string) (hashHex, encoded string) {
	c.kvs = c.kvs[:0]
	for k, v := range attrs {
		c.kvs = append(c.kvs, attrKV{key: k, low: strings.ToLower(k), vals: v})
	}
	slices.SortFunc(c.kvs, func(a, b attrKV) int { return strings.Compare(a.low, b.low) })
	return c.finish(typ, norm)
}

func (c *encoder) finish(typ, norm string) (string, string) {
	h := c.hash(typ, norm)
	return h, c.encoded()
}

// hash returns the content hash of the loaded attributes.
func (c *encoder) hash(typ, norm string) string {
	c.h.Reset()
	b := append(c.buf[:0], typ...)
	b = append(b, 0)
	b = append(b, norm...)
	for _, kv := range c.kvs {
		b = append(b, 0)
		b = append(b, kv.low...)
		vals := kv.vals
		if len(vals) > 1 {
			c.vals = append(c.vals[:0], vals...)
			slices.Sort(c.vals)
			vals = c.vals
		}
		for _, v := range vals {
			b = append(b, 1)
			b = append(b, v...)
		}
	}
	c.h.Write(b)
	c.sum = c.h.Sum(c.sum[:0])
	var hx [32]byte
	hex.Encode(hx[:], c.sum[:16])
	c.buf = b
	return string(hx[:])
}

// encoded returns the loaded attributes as a JSON object.
func (c *encoder) encoded() string {
	b := append(c.buf[:0], '{')
	for i, kv := range c.kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, kv.key)
		b = append(b, ':', '[')
		for j, v := range kv.vals {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	c.buf = b
	return string(b)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
