package scim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/syncguard/syncguard/guard/target"
)

// serviceConfig is what syncguard reads of a ServiceProviderConfig (RFC
// 7643 section 5).
type serviceConfig struct {
	Patch struct {
		Supported bool `json:"supported"`
	} `json:"patch"`
}

// readServiceConfig reads the service's ServiceProviderConfig and
// remembers whether it has PATCH.
func (w *Writer) readServiceConfig(ctx context.Context) (bool, error) {
	var spc serviceConfig
	if err := w.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, &spc); err != nil {
		if status(err) != http.StatusNotFound {
			return false, err
		}
		// No ServiceProviderConfig: try PATCH, and fall back to PUT if
		// the service answers it with 501.
		spc.Patch.Supported = true
	}
	if spc.Patch.Supported {
		w.patch.Store(patchYes)
	} else {
		w.patch.Store(patchNo)
	}
	return spc.Patch.Supported, nil
}

// patchSupported says whether updates may use PATCH. The
// ServiceProviderConfig is read once, by the first call that needs it;
// the calls beside it wait for its answer. A failed read is tried again
// by the next call.
func (w *Writer) patchSupported(ctx context.Context) (bool, error) {
	if p := w.patch.Load(); p != patchUnknown {
		return p == patchYes, nil
	}
	w.spcMu.Lock()
	defer w.spcMu.Unlock()
	if p := w.patch.Load(); p != patchUnknown {
		return p == patchYes, nil
	}
	return w.readServiceConfig(ctx)
}

// Test reads the ServiceProviderConfig and one page of users and of
// groups, and says what it found ("SCIM 2.0 service at HOST: PATCH
// supported, 42 users, 3 groups"), or why it could not in an admin's words.
func (w *Writer) Test(ctx context.Context) (string, error) {
	ctx, cancel := w.bound(ctx)
	defer cancel()
	patch, err := w.readServiceConfig(ctx)
	if err != nil {
		return "", explain(err)
	}
	counts, err := w.counts(ctx)
	if err != nil {
		return "", explain(err)
	}
	updates := "PATCH supported"
	if !patch {
		updates = "no PATCH (updates are PUT)"
	}
	return fmt.Sprintf("SCIM 2.0 service at %s: %s, %d users, %d groups", w.host, updates, counts[0], counts[1]), nil
}

// counts reads how many users and groups the service holds (one page of
// one resource each).
func (w *Writer) counts(ctx context.Context) ([2]int, error) {
	var counts [2]int
	for i, k := range []*kind{users, groups} {
		var page listResponse
		if err := w.do(ctx, http.MethodGet, k.endpoint+"?startIndex=1&count=1", nil, &page); err != nil {
			return counts, err
		}
		counts[i] = page.TotalResults
	}
	return counts, nil
}

// Empty reports whether the service holds no user and no group.
func (w *Writer) Empty(ctx context.Context) (bool, error) {
	ctx, cancel := w.bound(ctx)
	defer cancel()
	counts, err := w.counts(ctx)
	return counts == [2]int{}, err
}

// explain adds to a failed Test what an admin would check first.
func explain(err error) error {
	var te *target.Error
	if !errors.As(err, &te) {
		return target.Classify(err)
	}
	hint := ""
	var certErr *tls.CertificateVerificationError
	switch status(err) {
	case http.StatusUnauthorized:
		hint = " (the token was refused: check the token file)"
	case http.StatusForbidden:
		hint = " (the token may not read users and groups)"
	case http.StatusNotFound:
		hint = " (is the URL the service's SCIM base, such as scim+https://HOST/scim/v2?)"
	default:
		if errors.As(err, &certErr) {
			hint = " (give the CA file of the authority that signed it)"
		}
	}
	out := *te
	out.Message += hint
	return &out
}
