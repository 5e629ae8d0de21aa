package scimtest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
)

// Fault is how the server answers one request instead of serving it as a
// healthy service would. The zero Fault serves it.
type Fault struct {
	// Delay holds the request this long first (or until the client gives
	// up, or the server closes); then the rest of the Fault applies, or
	// the request is served.
	Delay time.Duration
	// Status answers with this status (429, 500, 503…) and a SCIM error
	// body saying Detail; the request is not served.
	Status int
	Detail string
	// RetryAfter is sent with Status as the Retry-After header ("2", or
	// an HTTP date).
	RetryAfter string
	// Cut closes the connection without an answer; the request is not
	// served.
	Cut bool
	// Reset closes the connection with a TCP reset, without an answer;
	// the request is not served.
	Reset bool
	// CutServed serves the request, then closes the connection without
	// an answer: the client cannot know the request was done.
	CutServed bool
	// Truncate serves the request, sends its answer's status, headers and
	// half its body, and closes the connection.
	Truncate bool
}

// queued is a Fault for the next n matching requests.
type queued struct {
	n                int
	method, endpoint string
	fault            Fault
}

// FailNext makes the next n requests with method ("" for any) on endpoint
// ("/Users" covers /Users and /Users/ID; "" for any) answer with f. Faults
// queued earlier are used up first.
func (s *Server) FailNext(n int, method, endpoint string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &queued{n: n, method: method, endpoint: endpoint, fault: f})
}

// faultFor returns the fault for a request: a queued one, else what
// Options.Fault says.
func (s *Server) faultFor(method, endpoint string, r *http.Request) Fault {
	s.mu.Lock()
	for i, q := range s.faults {
		if (q.method == "" || q.method == method) && (q.endpoint == "" || q.endpoint == endpointOf(endpoint)) {
			q.n--
			if q.n <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			s.mu.Unlock()
			return q.fault
		}
	}
	s.mu.Unlock()
	if s.opts.Fault != nil {
		return s.opts.Fault(r)
	}
	return Fault{}
}

// fault answers r as f says; it says whether it did (false: serve r).
func (s *Server) fault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.closing:
			return true
		}
	}
	switch {
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		detail := f.Detail
		if detail == "" {
			detail = "scimtest: " + strings.ToLower(http.StatusText(f.Status))
		}
		writeError(w, scimerrors.ScimError{Status: f.Status, Detail: detail})
	case f.Cut, f.Reset:
		_, _ = io.Copy(io.Discard, r.Body)
		hangUp(w, nil, f.Reset)
	case f.CutServed, f.Truncate:
		rec := httptest.NewRecorder()
		s.handle(rec, r)
		var partial []byte
		if f.Truncate {
			partial = halfAnswer(rec)
		}
		hangUp(w, partial, false)
	default:
		return false
	}
	return true
}

// halfAnswer is the status line and headers of a recorded answer and the
// first half of its body, announced at full length.
func halfAnswer(rec *httptest.ResponseRecorder) []byte {
	var b bytes.Buffer
	body := rec.Body.Bytes()
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	h := rec.Header().Clone()
	h.Set("Content-Length", fmt.Sprint(len(body)))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body[:len(body)/2])
	return b.Bytes()
}

// hangUp takes the connection from the HTTP server, writes data on it and
// closes it: with a TCP reset when reset.
func hangUp(w http.ResponseWriter, data []byte, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("scimtest: cannot take the connection: " + err.Error())
	}
	if len(data) > 0 {
		_, _ = conn.Write(data)
	}
	if reset {
		raw := conn
		if tc, ok := conn.(*tls.Conn); ok {
			raw = tc.NetConn()
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	}
	_ = conn.Close()
}
