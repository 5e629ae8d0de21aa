package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/syncguard/syncguard/guard/ldap"
	"github.com/syncguard/syncguard/guard/ldif"
	"github.com/syncguard/syncguard/store"
)

// Sum fingerprints one source record as the source encoded it: the first
// 16 bytes of the SHA-256 of its bytes (an LDIF record as written, an LDAP
// search result entry as the server sent it). A collision-resistant hash,
// so that nobody who can edit their own entry can craft a change that
// keeps its fingerprint.
type Sum [store.SumSize]byte

func sumOf(raw []byte) Sum {
	h := sha256.Sum256(raw)
	return Sum(h[:store.SumSize])
}

// A fingerprinter is a source that can fingerprint its records without
// decoding them, in the order, and with the sums, Read gives them.
//
// This is how a cycle finds, at about the cost of reading the source, that
// nothing changed: when every record has the sum it had when a cycle last
// made the target equal to the source, with the same settings, and nothing
// touched the target since, planning would find nothing to do.
type fingerprinter interface {
	Sums(ctx context.Context, bases []string, fn func(Sum) error) error
}

// plannerVersion is part of every digest's fingerprint: change it whenever
// a change to planning (classification, anchors, hashing, attributes)
// could plan differently from the same records, so that the first cycle
// after an upgrade plans in full. TestPlannerGolden fails when the plan of
// testdata/planner.ldif changes and this does not.
const plannerVersion = "2"

// digestFingerprint names everything besides the records that decides a
// plan: the planner, the source and how it is read, and the scope.
func digestFingerprint(cfg *store.Configuration, scope, bases []string) string {
	h := sha256.New()
	for _, part := range []string{plannerVersion, cfg.Source, cfg.BaseDN, cfg.BindDN, objectFilter,
		strings.Join(objectAttrs, "\x00"), strings.Join(scope, "\x00"), strings.Join(bases, "\x00")} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sourceUnchanged reports whether the source gives exactly the records of
// the stored digest, read with the same settings (run.fingerprint) and with
// the target directory untouched since (the same generation), and returns
// that digest. It looks only when the source can fingerprint its records
// and no quarantine is pending (that cycle must see which staged objects
// came back), and stops at the first record that differs. An error is a
// failure to read the source, which a full read would meet as well.
func (e *Engine) sourceUnchanged(ctx context.Context, run *cycleRun) (*store.SourceDigest, bool, error) {
	f, ok := run.src.(fingerprinter)
	if !ok || run.cfg.QuarantineID != 0 {
		return nil, false, nil
	}
	d, err := e.Store.SourceDigest(ctx, run.cfg.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case d.Generation != run.cfg.Generation || d.Fingerprint != run.fingerprint:
		return nil, false, nil
	}
	same, err := unchanged(ctx, f, run.bases, d, run.prog)
	if err != nil {
		return nil, false, readError(ctx, err)
	}
	if !same {
		run.prog.Read.Store(0) // the full read starts over from the first record
	}
	return d, same, nil
}

// recordUnchanged records a cycle whose source is unchanged: Succeeded,
// with nothing to do, the digest kept for the next cycle.
func (e *Engine) recordUnchanged(ctx context.Context, run *cycleRun, d *store.SourceDigest, replan bool) (*store.Cycle, error) {
	run.prog.Phase.Store("applying")
	run.rec.Read = d.InScope
	return e.record(ctx, run, &store.CycleWrite{Cycle: run.rec, Changes: store.Unchanged{}}, replan)
}

// recordSums collects the fingerprints of the records a read hands on, in
// order, for the digest of the source. It wraps the function the source
// calls with each entry (the pipeline's Add), so planning knows nothing of
// it.
type recordSums struct {
	sums []byte
	none bool // an entry came without a fingerprint: the source gives none
}

// wrap returns add, collecting each entry's fingerprint first.
func (r *recordSums) wrap(add func(*Entry) error) func(*Entry) error {
	return func(e *Entry) error {
		if e.Sum == (Sum{}) {
			r.none, r.sums = true, nil
		} else if !r.none {
			r.sums = append(r.sums, e.Sum[:]...)
		}
		return add(e)
	}
}

// digest returns the digest of the records read with the settings named by
// fingerprint, inScope of them users and groups in scope; nil when there is
// nothing to fingerprint.
func (r *recordSums) digest(fingerprint string, inScope int) *store.SourceDigest {
	if r.none || len(r.sums) == 0 {
		return nil
	}
	return &store.SourceDigest{Fingerprint: fingerprint, InScope: inScope, Sums: r.sums}
}

// errChanged stops a fingerprint pass at the first record that differs.
var errChanged = errors.New("the source changed")

// unchanged reports whether src gives exactly the records of d, in order.
// It stops at the first difference.
func unchanged(ctx context.Context, src fingerprinter, bases []string, d *store.SourceDigest, prog *Progress) (bool, error) {
	sums := d.Sums
	err := src.Sums(ctx, bases, func(s Sum) error {
		prog.Read.Add(1)
		if len(sums) < len(s) || Sum(sums[:len(s)]) != s {
			return errChanged
		}
		sums = sums[len(s):]
		return nil
	})
	switch {
	case errors.Is(err, errChanged):
		return false, nil
	case err != nil:
		return false, err
	}
	return len(sums) == 0, nil
}

// newLDIFReader reads an LDIF export as a source must be read.
func newLDIFReader(r io.Reader) *ldif.Reader {
	lr := ldif.NewReader(r)
	// A file cut right after a line must not pass for a complete export
	// whose last record lacks attributes: that record would become an
	// update dropping them, or a new anchor (a delete and a create).
	lr.RequireBlankLine = true
	return lr
}

// Sums fingerprints the records of the LDIF file without parsing them. A
// record that does not even frame (a truncated file) is reported as a
// change: reading in full then says what is wrong.
func (s *ldifSource) Sums(ctx context.Context, _ []string, fn func(Sum) error) error {
	return s.scan(ctx, func(r *ldif.Reader) error {
		raw, err := r.NextRaw()
		var le *ldif.Error
		switch {
		case err == io.EOF:
			return err
		case errors.As(err, &le) && le.Err == nil:
			return errChanged
		case err != nil:
			return fmt.Errorf("source %s: %w", s.path, err)
		}
		return fn(sumOf(raw))
	})
}

// Sums fingerprints the entries under every base, in the order Read reads
// them, as the server encoded them, without decoding them. A scope OU gone
// is passed over as Read passes over it.
func (s *ldapSource) Sums(ctx context.Context, bases []string, fn func(Sum) error) error {
	_, err := s.eachBase(bases, func(cfg ldap.Config, seen *int) error {
		return ldap.SearchRaw(ctx, cfg, objectFilter, objectAttrs, func(raw []byte) error {
			*seen++
			return fn(sumOf(raw))
		})
	})
	return err
}
