package guard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strings"

	"github.com/syncguard/syncguard/store"
)

// spool holds the objects a cycle creates in an unlinked temporary file
// rather than in memory: a first cycle of a million users would otherwise
// keep every object until the guard has decided. Only the anchor and the
// place of each record stay in memory, to apply them in anchor order (the
// target directory's key order).
type spool struct {
	f    *os.File
	w    *bufio.Writer
	off  int64
	recs []spoolRec
	buf  []byte
}

type spoolRec struct {
	anchor string
	off    int64
	n      int32
}

func newSpool() (*spool, error) {
	// CreateTemp makes the file 0600 (O_EXCL): directory text is its owner's alone.
	f, err := os.CreateTemp("", "syncguard-spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	// Unlinked at once: the file goes away with the process, even killed.
	os.Remove(f.Name())
	return &spool{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// len returns how many objects the spool holds (0 for a nil spool).
func (s *spool) len() int {
	if s == nil {
		return 0
	}
	return len(s.recs)
}

// put appends an object.
func (s *spool) put(o *store.TargetObject) error {
	b := s.buf[:0]
	for _, v := range []string{o.Anchor, o.Type, o.DN, o.Name, o.Hash, o.Encoded} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.recs = append(s.recs, spoolRec{anchor: o.Anchor, off: s.off, n: int32(len(b))})
	s.off += int64(len(b))
	return nil
}

// all yields every object, in anchor order; a read that fails yields the
// error and ends. The object is valid until the next one; its strings stay
// valid.
func (s *spool) all() iter.Seq2[*store.TargetObject, error] {
	return func(yield func(*store.TargetObject, error) bool) {
		if s.len() == 0 {
			return
		}
		if err := s.w.Flush(); err != nil {
			yield(nil, fmt.Errorf("spool: %w", err))
			return
		}
		slices.SortFunc(s.recs, func(a, b spoolRec) int { return strings.Compare(a.anchor, b.anchor) })
		var o store.TargetObject
		var buf []byte
		for _, r := range s.recs {
			buf = slices.Grow(buf[:0], int(r.n))[:r.n]
			if _, err := s.f.ReadAt(buf, r.off); err != nil && !errors.Is(err, io.EOF) {
				yield(nil, fmt.Errorf("spool: %w", err))
				return
			}
			if err := decodeSpooled(&o, string(buf)); err != nil {
				yield(nil, err)
				return
			}
			if !yield(&o, nil) {
				return
			}
		}
	}
}

// take removes the objects of the given anchors from the spool and returns
// them.
func (s *spool) take(anchors map[string]bool) ([]store.TargetObject, error) {
	if s.len() == 0 || len(anchors) == 0 {
		return nil, nil
	}
	var out []store.TargetObject
	for o, err := range s.all() {
		if err != nil {
			return nil, err
		}
		if anchors[o.Anchor] {
			out = append(out, *o)
		}
	}
	s.recs = slices.DeleteFunc(s.recs, func(r spoolRec) bool { return anchors[r.anchor] })
	return out, nil
}

// decodeSpooled decodes a record put wrote into o. The record is one
// string; the fields are slices of it.
func decodeSpooled(o *store.TargetObject, rec string) error {
	var fields [6]string
	for i := range fields {
		n, k := uvarint(rec)
		if k <= 0 || uint64(len(rec)-k) < n {
			return errors.New("spool: corrupt record")
		}
		fields[i], rec = rec[k:k+int(n)], rec[k+int(n):]
	}
	*o = store.TargetObject{Anchor: fields[0], Type: fields[1], DN: fields[2], Name: fields[3], Hash: fields[4], Encoded: fields[5]}
	return nil
}

// close removes the spool.
func (s *spool) close() {
	if s != nil {
		s.f.Close()
	}
}

// uvarint decodes a uvarint at the start of s, as binary.Uvarint does.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
