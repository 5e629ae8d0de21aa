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
// after an upgrade plans in full.
const plannerVersion = "1"

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

// errChanged stops a fingerprint pass at the first record that differs.
var errChanged = errors.New("the source changed")

// unchanged reports whether src gives exactly the records of d, in order.
// It stops at the first difference. An error is a failure to read the
// source, which a full read would meet as well.
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
// them, as the server encoded them, without decoding them.
func (s *ldapSource) Sums(ctx context.Context, bases []string, fn func(Sum) error) error {
	return s.eachBase(bases, func(cfg ldap.Config) error {
		return ldap.SearchRaw(ctx, cfg, objectFilter, objectAttrs, func(raw []byte) error { return fn(sumOf(raw)) })
	})
}
