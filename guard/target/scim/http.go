package scim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/syncguard/syncguard/guard/target"
)

const (
	maxAnswer      = 32 << 20 // the most of a 2xx answer read
	maxErrorAnswer = 64 << 10 // the most of an error answer read
	maxDetail      = 300      // runes of a service's detail kept in a message
	maxPooled      = 1 << 20  // the largest answer buffer kept for reuse
)

// statusError is an answer outside 2xx: what callers branch on.
type statusError struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("status %d %s: %s", e.Status, e.ScimType, e.Detail)
}

// status returns the HTTP status of a call that failed with one, else 0.
func status(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// do sends one request to the service: body (when not nil) as JSON, and a
// 2xx answer decoded into out (when not nil). Any failure is a
// *target.Error; an answer outside 2xx carries a *statusError.
func (w *Writer) do(ctx context.Context, method, path string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return &target.Error{Message: "SCIM: cannot encode the request: " + err.Error(), Err: err}
		}
	}
	return w.send(ctx, method, path, data, out)
}

// send is do with the body encoded.
func (w *Writer) send(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		return &target.Error{Message: "SCIM: bad request: " + err.Error(), Err: err}
	}
	req.Header.Set("Authorization", w.auth)
	req.Header.Set("Accept", "application/scim+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return w.netError(ctx, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return w.answerError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if c, ok := out.(*created); ok {
		if c.ID = idFromLocation(resp.Header.Get("Location"), path); c.ID != "" {
			return nil
		}
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooled {
			buffers.Put(buf)
		}
	}()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer)); err != nil {
		return w.netError(ctx, err)
	}
	if buf.Len() == 0 {
		return target.Permanent("SCIM %d: the answer has no body", resp.StatusCode)
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return &target.Error{Message: fmt.Sprintf("SCIM %d: the answer is not SCIM JSON: %v", resp.StatusCode, err), Err: err}
	}
	return nil
}

// created is what a create's answer says that Put needs: the new id.
type created struct {
	ID string `json:"id"`
}

// idFromLocation returns the id at the end of the Location of a resource
// created at endpoint (RFC 7644 section 3.3: .../Users/ID), "" when
// Location is absent or of another form. It spares decoding the answer.
func idFromLocation(location, endpoint string) string {
	u, err := url.Parse(location)
	if err != nil || location == "" || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	dir, last := path.Split(u.EscapedPath())
	if !strings.HasSuffix(dir, endpoint+"/") {
		return ""
	}
	id, err := url.PathUnescape(last)
	if err != nil {
		return ""
	}
	return id
}

// buffers hold answers while they are decoded.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// drain reads what is left of a body (a little) and closes it, so that
// its connection serves the next call.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxErrorAnswer))
	_ = body.Close()
}

// answerError turns an answer outside 2xx into a *target.Error in the
// service's words, from its SCIM error body (RFC 7644 section 3.12).
func (w *Writer) answerError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorAnswer))
	var body struct {
		ScimType string `json:"scimType"`
		Detail   string `json:"detail"`
	}
	_ = json.Unmarshal(raw, &body)
	se := &statusError{Status: resp.StatusCode, ScimType: w.clean(body.ScimType), Detail: w.clean(body.Detail)}
	code := resp.StatusCode
	if code >= 300 && code < 400 {
		se.Detail = fmt.Sprintf("redirected to %s: give that address as the target URL", w.clean(resp.Header.Get("Location")))
	}
	detail := se.Detail
	if detail == "" {
		detail = http.StatusText(code)
	}
	if detail == "" {
		detail = "no detail"
	}
	msg := "SCIM " + strconv.Itoa(code)
	if se.ScimType != "" {
		msg += " " + se.ScimType
	}
	te := &target.Error{Message: msg + ": " + detail, Err: se}
	// 501 says an operation is not there at all: waiting will not bring it.
	te.Transient = code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented)
	if te.Transient {
		te.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return te
}

// retryAfter parses a Retry-After value: seconds or an HTTP date. 0 when
// absent, unreadable or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// clean makes a service's text fit one log line: control characters and
// runs of spaces become one space, the token never shows, long text is cut.
func (w *Writer) clean(s string) string {
	if w.token != "" {
		s = strings.ReplaceAll(s, w.token, "[token]")
	}
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > maxDetail {
		s = string(r[:maxDetail]) + "…"
	}
	return s
}

// netError turns a failure to get an answer into a *target.Error: what
// waiting may cure (refused, reset, cut, timed out) is transient; a
// certificate that is not trusted or a host that does not exist is not.
func (w *Writer) netError(ctx context.Context, err error) error {
	var (
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		dnsErr   *net.DNSError
		netErr   net.Error
	)
	te := &target.Error{Transient: true, Err: err}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		te.Message = "SCIM: timed out waiting for " + w.host
	case errors.Is(err, context.Canceled):
		te.Message = "SCIM: the call to " + w.host + " was cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		te.Message = "SCIM: connection refused by " + w.host
	case errors.Is(err, syscall.ECONNRESET):
		te.Message = "SCIM: connection reset by " + w.host
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		te.Message = "SCIM: " + w.host + " closed the connection before answering in full"
	case errors.As(err, &certErr):
		te.Transient, te.Message = false, "SCIM TLS: the certificate of "+w.host+" is not trusted: "+certErr.Err.Error()
	case errors.As(err, &recErr):
		te.Transient, te.Message = false, "SCIM TLS: "+w.host+" does not speak TLS"
	case errors.As(err, &alertErr):
		te.Transient, te.Message = false, "SCIM TLS: "+w.host+" refused the handshake: "+alertErr.Error()
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		te.Transient, te.Message = false, "SCIM: no such host "+dnsErr.Name
	default:
		te.Message = "SCIM: " + w.host + ": " + w.clean(innermost(err).Error())
	}
	return te
}

// innermost drops the request's method and URL from a client error.
func innermost(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
