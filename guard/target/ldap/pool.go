package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

// conn is one bound connection and the TCP connection under it, which is
// closed to interrupt a call whose context ends.
type conn struct {
	*ldapv3.Conn
	raw net.Conn
}

// pool hands each call a connection of its own, dialling one when none is
// idle; at most cap(sem) are in use at once. A connection that failed is
// closed instead of kept, so the next call dials again: that is how the
// writer reconnects after a server restart.
type pool struct {
	dial   func(ctx context.Context) (*conn, error)
	sem    chan struct{}
	mu     sync.Mutex
	idle   []*conn
	closed bool
}

var errClosed = &target.Error{Transient: true, Message: "LDAP: the writer is closed"}

func newPool(size int, dial func(ctx context.Context) (*conn, error)) *pool {
	return &pool{dial: dial, sem: make(chan struct{}, size)}
}

// get returns a connection for the caller alone; release it with put.
func (p *pool) get(ctx context.Context) (*conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.sem
			return nil, errClosed
		}
		if len(p.idle) == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.mu.Unlock()
		if !c.IsClosing() { // the server may have closed it while idle
			return c, nil
		}
		c.Close()
	}
	c, err := p.dial(ctx)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// put gives c back; keep false (or a closed pool, or a connection the
// server closed) closes it instead.
func (p *pool) put(c *conn, keep bool) {
	p.mu.Lock()
	if keep && !p.closed && !c.IsClosing() {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
	<-p.sem
}

// close closes the idle connections; those in use are closed when put back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// with runs fn on a connection of its own, within the Timeout. When ctx
// ends or the time is up the connection is cut, which ends fn's request at
// once; a connection whose request failed on the network (or was cut) is
// not reused.
func (w *Writer) with(ctx context.Context, fn func(c *conn) error) error {
	ctx, cancel := w.bounded(ctx)
	defer cancel()
	c, err := w.pool.get(ctx)
	if err != nil {
		return w.fail(ctx, err)
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	err = fn(c)
	cut := !stop()
	w.pool.put(c, !cut && !lost(err))
	if err != nil {
		return w.fail(ctx, err)
	}
	return nil
}

// bounded returns ctx limited to the Timeout, ending with a timeoutError.
func (w *Writer) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, w.cfg.Timeout, timeoutError{w.cfg.Timeout})
}

// timeoutError is the cause of a call's context when the Timeout is up.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for the server", e.d)
}

// lost reports whether err leaves the connection unusable: anything but
// the server's answer to a request.
func lost(err error) bool {
	if err == nil {
		return false
	}
	var le *ldapv3.Error
	if errors.As(err, &le) {
		return le.ResultCode >= ldapv3.ErrorNetwork
	}
	var te *target.Error
	return !errors.As(err, &te) || te.Transient
}

// dial connects, upgrades to TLS (ldaps:// or StartTLS) and binds. Its
// errors are *target.Error values that name the step and the server.
func (w *Writer) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: w.cfg.Timeout}
	raw, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return nil, classify(dialError(w.cfg.URL, err))
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	nc := raw
	if w.ldaps || w.cfg.StartTLS {
		tc, err := w.handshake(ctx, raw)
		if err != nil {
			raw.Close()
			return nil, err
		}
		nc = tc
	}
	l := ldapv3.NewConn(nc, w.ldaps || w.cfg.StartTLS)
	l.Start() // no go-ldap request timeout (a goroutine per request): the call's context bounds it
	if w.cfg.BindDN != "" {
		if err := l.Bind(w.cfg.BindDN, w.cfg.BindPassword); err != nil {
			l.Close()
			te := classify(err)
			te.Message += " (bind as " + w.cfg.BindDN + ")"
			return nil, te
		}
	}
	return &conn{Conn: l, raw: raw}, nil
}

// handshake runs StartTLS (for ldap://) and the TLS handshake on raw,
// bounded by the timeout and ctx.
func (w *Writer) handshake(ctx context.Context, raw net.Conn) (*tls.Conn, error) {
	if err := raw.SetDeadline(time.Now().Add(w.cfg.Timeout)); err != nil {
		return nil, classify(dialError(w.cfg.URL, err))
	}
	if w.cfg.StartTLS {
		if err := startTLS(raw); err != nil {
			if resultCode(err) == 0 {
				return nil, classify(dialError(w.cfg.URL, err))
			}
			// The server refuses TLS (slapd without a certificate
			// answers 52): its configuration, not its state.
			te := classify(err)
			te.Transient = false
			te.Message += " (StartTLS refused by " + w.cfg.URL + ")"
			return nil, te
		}
	}
	tc := tls.Client(raw, w.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, classify(dialError(w.cfg.URL, err))
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, classify(dialError(w.cfg.URL, err))
	}
	return tc, nil
}

// startTLS asks for TLS with the StartTLS extended operation (RFC 4511
// 4.14) on the bare connection, before go-ldap takes it over: the TLS
// handshake that follows is then ours, bounded and with typed errors.
func startTLS(raw net.Conn) error {
	msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 1, "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationExtendedRequest, nil, "Start TLS")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", "TLS Extended Command"))
	msg.AppendChild(req)
	if _, err := raw.Write(msg.Bytes()); err != nil {
		return err
	}
	resp, err := ber.ReadPacket(raw)
	if err != nil {
		return err
	}
	return ldapv3.GetLDAPError(resp)
}
