package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/syncguard/syncguard/guard/target"
)

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
		c.reused = true
		return c, nil
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
	if keep && !p.closed && !c.broken {
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
// not reused. A connection that sat idle may have been closed by the
// server meanwhile (a restart): when it fails that way, fn runs again once
// on a new connection. That is safe because every step of a call can be
// repeated: an Add that had gone through answers entryAlreadyExists and is
// matched, a ModifyDN noSuchObject and is matched, a Modify replaces.
func (w *Writer) with(ctx context.Context, fn func(c *conn) error) error {
	ctx, cancel := w.bounded(ctx)
	defer cancel()
	for {
		c, err := w.pool.get(ctx)
		if err != nil {
			return w.fail(ctx, err)
		}
		stop := context.AfterFunc(ctx, func() { c.raw.Close() })
		err = fn(c)
		cut := !stop()
		broken := cut || lost(err)
		w.pool.put(c, !broken)
		switch {
		case err == nil:
			return nil
		case broken && c.reused && !cut:
			continue
		}
		return w.fail(ctx, err)
	}
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
	c := newConn(raw)
	if w.ldaps || w.cfg.StartTLS {
		if err := w.handshake(ctx, c); err != nil {
			raw.Close()
			return nil, err
		}
	}
	if w.cfg.BindDN != "" {
		if err := c.Bind(w.cfg.BindDN, w.cfg.BindPassword); err != nil {
			c.Close()
			te := classify(err)
			te.Message += " (bind as " + w.cfg.BindDN + ")"
			return nil, te
		}
	}
	return c, nil
}

// handshake runs StartTLS (for ldap://) and the TLS handshake on c,
// bounded by the timeout and ctx.
func (w *Writer) handshake(ctx context.Context, c *conn) error {
	if err := c.raw.SetDeadline(time.Now().Add(w.cfg.Timeout)); err != nil {
		return classify(dialError(w.cfg.URL, err))
	}
	if w.cfg.StartTLS {
		if err := c.StartTLS(); err != nil {
			if resultCode(err) == 0 {
				return classify(dialError(w.cfg.URL, err))
			}
			// The server refuses TLS (AD without a certificate answers
			// 52): its configuration, not its state.
			te := classify(err)
			te.Transient = false
			te.Message += " (StartTLS refused by " + w.cfg.URL + ")"
			return te
		}
	}
	tc := tls.Client(c.raw, w.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return classify(dialError(w.cfg.URL, err))
	}
	if err := c.raw.SetDeadline(time.Time{}); err != nil {
		return classify(dialError(w.cfg.URL, err))
	}
	c.useTLS(tc)
	return nil
}
