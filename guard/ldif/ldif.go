// Package ldif reads the content records of an RFC 2849 LDIF file, such as
// the output of slapcat, ldapsearch -LLL or ldifde.
//
// It is deliberately strict where leniency could make a broken export look
// like a smaller directory: change records, controls and URL values (:<) are
// refused, and a file that ends in the middle of a record line (a truncated
// export) is an error. Every error is an *Error carrying a line number.
package ldif

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Attr is one attribute of a record with all its values in file order.
//
// Name keeps the spelling of its first occurrence in the record, including
// any options ("cn;lang-en"). Values are the raw values: a base64 value
// (attr:: ...) is decoded to its bytes, which need not be valid UTF-8.
type Attr struct {
	Name   string
	Values []string
}

// Record is one content record. Line is the line number of its dn: line.
type Record struct {
	DN    string
	Attrs []Attr
	Line  int
	// Raw, when the Reader keeps it (Reader.KeepRaw), is the record as
	// written in the file: see Reader.NextRaw.
	Raw []byte
}

// Get returns the values of the attribute named name, compared without
// regard to case, or nil when the record has none. Options are part of the
// name: Get("cn") does not return the values of "cn;lang-en".
func (r *Record) Get(name string) []string {
	for i := range r.Attrs {
		if strings.EqualFold(r.Attrs[i].Name, name) {
			return r.Attrs[i].Values
		}
	}
	return nil
}

// Clone returns a deep copy of r that a later call to Reader.Next does not
// overwrite.
func (r *Record) Clone() *Record {
	c := &Record{DN: r.DN, Line: r.Line, Attrs: make([]Attr, len(r.Attrs))}
	for i, a := range r.Attrs {
		c.Attrs[i] = Attr{Name: a.Name, Values: append([]string(nil), a.Values...)}
	}
	return c
}

// Error is a parse error with its 1-based line number; Error() = "ldif: line N: msg".
// Err, when not nil, is the underlying read error.
type Error struct {
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("ldif: line %d: %s", e.Line, e.Msg) }

// Unwrap returns the underlying read error, if any.
func (e *Error) Unwrap() error { return e.Err }

const (
	// bufSize is the read buffer: large, so that most lines are a slice of it.
	bufSize = 1 << 20
	// maxLine bounds one logical (unfolded) line, e.g. a base64 jpegPhoto.
	maxLine = 64 << 20
	// maxNames bounds the attribute-name intern table.
	maxNames = 4096
)

// Reader reads content records from an LDIF stream. It is not safe for
// concurrent use.
//
// Next and NextRaw share one framer (frame): it reads a record's lines as
// written, up to the blank line that ends it. NextRaw returns them; Next
// parses them. A record is therefore framed the same way whichever reads it.
type Reader struct {
	// RequireBlankLine makes a record that ends at the end of the input,
	// without a blank line after it, an error. RFC 2849 allows such a last
	// record, but a file cut exactly at the end of a line looks the same,
	// and its last record would silently lack the attributes that followed
	// (slapcat, ldapsearch -LLL and ldifde end every record with a blank line).
	RequireBlankLine bool
	// KeepRaw makes Next fill Record.Raw with the bytes NextRaw would
	// return for the record.
	KeepRaw bool

	br *bufio.Reader

	// The framer's state: the current record as written, and where in it
	// the record's own lines start.
	raw     []byte // comment lines before the record, then its lines
	ends    []int  // where each line of raw ends
	recAt   int    // index in ends of the record's first line; -1 when none
	recLine int    // that line's number
	atEOF   bool   // the input ended inside the record, without a blank line
	lineNo  int    // physical lines read so far
	started bool   // past the place where version: may appear

	// The parser's state: the logical line it is at, in raw.
	pos       int    // index in ends of the next line to parse
	posLine   int    // that line's number
	line      []byte // the current logical (unfolded) line, without terminators
	lineStart int    // line number of its first physical line
	lineEnd   int    // line number of its last physical line
	noNL      bool   // the current logical line ended at EOF without "\n"
	fold      []byte // unfolded lines

	err error // sticky: once Next or NextRaw failed it keeps failing

	rec     Record
	scratch []byte            // base64 decoding
	names   map[string]string // interned attribute names
}

// NewReader returns a Reader reading LDIF from r. It buffers r itself.
func NewReader(r io.Reader) *Reader {
	return &Reader{
		br:    bufio.NewReaderSize(r, bufSize),
		names: make(map[string]string),
	}
}

// Next returns the next record, or io.EOF after the last one. The returned
// *Record (and its slices) may be reused by the next call to Next; strings
// are never reused. Use Record.Clone to keep a record.
//
// Any other error is an *Error with the line number; after an error, Next
// keeps returning it.
func (r *Reader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return rec, nil
}

// NextRaw returns the next record as written in the file, without parsing
// it: its lines up to the blank line that ends it, each with its line
// terminator, preceded by the comment lines before it (and, first in the
// file, the version: line); blank lines are left out. It frames records as
// Next does (they share the framer): for a file Next reads without error,
// the n-th NextRaw returns the Record.Raw of the n-th Next with KeepRaw. It
// checks nothing but the framing, so a record it returns may still be
// malformed.
//
// It returns io.EOF after the last record, and an *Error when a read fails,
// the framing is broken (a continuation line with nothing to continue, a
// bad version: line) or, with RequireBlankLine, the input ends inside a
// record. The returned slice is overwritten by the next call.
func (r *Reader) NextRaw() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	err := r.frame()
	if err == nil && r.atEOF && r.RequireBlankLine {
		err = r.errorf(r.lineNo, "the file ends inside the record at line %d, without the blank line "+
			"that ends a record: truncated? (a complete export ends with an empty line)", r.recLine)
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	return r.raw, nil
}

// frame reads the next record as written into r.raw: the comment lines
// before it (and the version: line, first in the file), then the record's
// own lines up to the blank line that ends it or the end of the input
// (r.atEOF). Blank lines are left out. It returns io.EOF when no record is
// left.
func (r *Reader) frame() error {
	r.raw, r.ends = r.raw[:0], r.ends[:0]
	r.recAt, r.atEOF = -1, false
	continued := false // a leading space would continue the line before (a comment or version:)
	for {
		start := len(r.raw)
		nl, err := r.rawLine()
		if err == io.EOF {
			if r.recAt < 0 {
				return io.EOF
			}
			r.atEOF = true
			return nil
		}
		if err != nil {
			return err
		}
		line := r.raw[start:]
		if nl && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) { // blank
			r.raw = r.raw[:start]
			if r.recAt >= 0 {
				return nil
			}
			continued = false
			continue
		}
		r.ends = append(r.ends, len(r.raw))
		switch {
		case r.recAt >= 0:
			// A line of the record.
		case line[0] == ' ':
			// Continuations are part of the line they continue, so this
			// one has nothing to continue: it is first in the file or
			// follows a blank line.
			if !continued {
				return r.errorf(r.lineNo, "continuation line (leading space) without a line to continue")
			}
		case line[0] == '#':
			continued = true
		case !r.started:
			r.started = true
			at, first := len(r.ends)-1, r.lineNo
			version, err := r.version(at)
			if err != nil {
				return err
			}
			if version {
				continued = true
				continue
			}
			r.recAt, r.recLine = at, first
		default:
			r.recAt, r.recLine = len(r.ends)-1, r.lineNo
		}
	}
}

// version reads the continuation lines of the first line of the file, line
// at of r.raw, and reports whether it is a version: line, which it checks.
func (r *Reader) version(at int) (bool, error) {
	first := r.lineNo
	for r.raw[len(r.raw)-1] == '\n' {
		if b, err := r.br.Peek(1); err != nil || b[0] != ' ' {
			break
		}
		if _, err := r.rawLine(); err != nil {
			return false, err
		}
		r.ends = append(r.ends, len(r.raw))
	}
	r.pos, r.posLine = at, first
	r.nextLine()
	if !hasPrefixFold(r.line, "version:") {
		return false, nil
	}
	if r.noNL {
		return false, r.truncated(r.lineEnd)
	}
	if v := trimSpaces(r.line[len("version:"):]); string(v) != "1" {
		return false, r.errorf(r.lineStart, "unsupported LDIF version %q", v)
	}
	return true, nil
}

// rawLine appends the next physical line, terminator included, to r.raw.
// nl reports whether it ended with "\n"; io.EOF means nothing was left.
func (r *Reader) rawLine() (nl bool, err error) {
	start := len(r.raw)
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.raw)-start+len(chunk) > maxLine {
			return false, r.errorf(r.lineNo+1, "line longer than %d bytes", maxLine)
		}
		r.raw = append(r.raw, chunk...)
		switch err {
		case nil:
			r.lineNo++
			return true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(r.raw) == start {
				return false, io.EOF
			}
			r.lineNo++
			return false, nil
		default:
			return false, &Error{Line: r.lineNo + 1, Msg: "read: " + err.Error(), Err: err}
		}
	}
}

func (r *Reader) errorf(line int, format string, args ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (r *Reader) truncated(line int) error {
	return r.errorf(line, "file ends in the middle of a line; truncated?")
}

// nextLine moves the parser to the next logical line of the framed record,
// line r.pos of r.raw: a line and the continuation lines after it, unfolded
// into r.line without their terminators. It returns false at the end.
func (r *Reader) nextLine() bool {
	if r.pos >= len(r.ends) {
		return false
	}
	r.lineStart = r.posLine
	line, nl := r.physical()
	folded := false
	for nl && r.pos < len(r.ends) && r.raw[r.ends[r.pos-1]] == ' ' {
		if !folded {
			r.fold, folded = append(r.fold[:0], line...), true
		}
		var cont []byte
		cont, nl = r.physical()
		r.fold = append(r.fold, cont[1:]...) // without the leading space
	}
	r.line = line
	if folded {
		r.line = r.fold
	}
	r.lineEnd, r.noNL = r.posLine-1, !nl
	return true
}

// physical returns line r.pos of r.raw without its "\n" or "\r\n", and
// moves past it. nl reports whether it ended with "\n".
func (r *Reader) physical() (line []byte, nl bool) {
	start := 0
	if r.pos > 0 {
		start = r.ends[r.pos-1]
	}
	line = r.raw[start:r.ends[r.pos]]
	r.pos++
	r.posLine++
	if line[len(line)-1] != '\n' {
		return line, false
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, true
}

// next frames the next record and parses it.
func (r *Reader) next() (*Record, error) {
	if err := r.frame(); err != nil {
		return nil, err
	}
	r.pos, r.posLine = r.recAt, r.recLine
	r.nextLine()
	if r.noNL {
		return nil, r.truncated(r.lineEnd)
	}
	rec := &r.rec
	rec.DN = ""
	rec.Line = r.lineStart
	rec.Attrs = rec.Attrs[:0]

	name, value, err := r.parseLine()
	if err != nil {
		return nil, err
	}
	if !equalFold(name, "dn") {
		return nil, r.errorf(r.lineStart, "record does not start with a dn: line (got %q)", name)
	}
	if len(value) == 0 {
		return nil, r.errorf(r.lineStart, "empty dn")
	}
	rec.DN = string(value)

	for r.nextLine() {
		if r.noNL {
			return nil, r.truncated(r.lineEnd)
		}
		if r.line[0] == '#' {
			continue
		}
		if err := r.attribute(); err != nil {
			return nil, err
		}
	}
	if r.atEOF && r.RequireBlankLine {
		return nil, r.errorf(r.lineNo, "the file ends inside the record of %q (line %d), without the blank line "+
			"that ends a record: truncated? (a complete export ends with an empty line)", rec.DN, rec.Line)
	}
	if len(rec.Attrs) == 0 {
		return nil, r.errorf(rec.Line, "record %q has no attributes", rec.DN)
	}
	rec.Raw = nil
	if r.KeepRaw {
		rec.Raw = r.raw
	}
	return rec, nil
}

// attribute parses the current line as an attribute of the record.
func (r *Reader) attribute() error {
	name, value, err := r.parseLine()
	if err != nil {
		return err
	}
	switch {
	case equalFold(name, "changetype"):
		if !equalFold(value, "add") {
			return r.errorf(r.lineStart, "change records are not supported (changetype: %s)", value)
		}
		return nil
	case equalFold(name, "control"):
		return r.errorf(r.lineStart, "change records are not supported (control: lines)")
	case equalFold(name, "dn"):
		return r.errorf(r.lineStart, "dn: line inside a record; missing blank line between records?")
	}
	r.add(name, value)
	return nil
}

// add appends value to the attribute name of the current record, grouping
// repeated attributes by case-insensitive name.
func (r *Reader) add(name, value []byte) {
	rec := &r.rec
	v := string(value)
	for i := range rec.Attrs {
		if equalFold(name, rec.Attrs[i].Name) {
			rec.Attrs[i].Values = append(rec.Attrs[i].Values, v)
			return
		}
	}
	n := r.intern(name)
	if len(rec.Attrs) < cap(rec.Attrs) {
		rec.Attrs = rec.Attrs[:len(rec.Attrs)+1]
		a := &rec.Attrs[len(rec.Attrs)-1]
		a.Name = n
		a.Values = append(a.Values[:0], v)
		return
	}
	rec.Attrs = append(rec.Attrs, Attr{Name: n, Values: []string{v}})
}

func (r *Reader) intern(b []byte) string {
	if s, ok := r.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(r.names) < maxNames {
		r.names[s] = s
	}
	return s
}

// parseLine splits the current logical line into an attribute description
// and its value, decoding base64. The returned slices are valid until the
// next read.
func (r *Reader) parseLine() (name, value []byte, err error) {
	line := r.line
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon < 0 {
		return nil, nil, r.errorf(r.lineStart, "missing colon (expected \"attribute: value\")")
	}
	name = line[:colon]
	if msg := checkName(name); msg != "" {
		return nil, nil, r.errorf(r.lineStart, "%s", msg)
	}
	rest := line[colon+1:]
	if len(rest) > 0 {
		switch rest[0] {
		case '<':
			return nil, nil, r.errorf(r.lineStart, "URL values (:<) are not allowed (attribute %q)", name)
		case ':':
			enc := trimSpaces(rest[1:])
			n := base64.StdEncoding.DecodedLen(len(enc))
			if cap(r.scratch) < n {
				r.scratch = make([]byte, n)
			}
			n, derr := base64.StdEncoding.Decode(r.scratch[:n], enc)
			if derr != nil {
				return nil, nil, r.errorf(r.lineStart, "invalid base64 value for attribute %q", name)
			}
			return name, r.scratch[:n], nil
		}
	}
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return name, rest, nil
}

// checkName validates an attribute description: a type (a name or a numeric
// OID) and options, e.g. "cn;lang-en". It returns "" when name is valid.
func checkName(name []byte) string {
	if len(name) == 0 {
		return "missing attribute name before colon"
	}
	if !isAlnum(name[0]) {
		return fmt.Sprintf("invalid attribute name %q", name)
	}
	prev := byte(0)
	for _, c := range name {
		switch {
		case isAlnum(c), c == '-', c == '.', c == '_':
		case c == ';':
			if prev == ';' {
				return fmt.Sprintf("invalid attribute name %q", name)
			}
		default:
			return fmt.Sprintf("invalid attribute name %q", name)
		}
		prev = c
	}
	if prev == ';' {
		return fmt.Sprintf("invalid attribute name %q", name)
	}
	return ""
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b and s are equal under ASCII case folding.
func equalFold[S ~string | ~[]byte](b []byte, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFold(b[:len(prefix)], prefix)
}
