package smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/smtp"
	"github.com/syncguard/syncguard/guard/smtp/smtptest"
)

// newSender returns a sender for srv in the given mode, failing the test on error.
func newSender(t *testing.T, srv *smtptest.Server, mode smtp.TLSMode, mod func(*smtp.Config)) *smtp.Sender {
	t.Helper()
	cfg := smtp.Config{
		Host:    srv.Host,
		Port:    srv.Port,
		TLS:     mode,
		From:    "syncguard@example.org",
		Timeout: 2 * time.Second,
	}
	if srv.CAPool != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: srv.CAPool}
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := smtp.NewSender(cfg)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

var testMsg = smtp.Message{
	To:      "admin@example.org",
	Subject: "[syncguard] Überlauf: 812 deletions staged",
	Body:    "812 deletions were staged against a threshold of 500.\nÄnderungen: see https://sync.example.org/configurations/1/status\n",
	ID:      "outbox-42",
}

func TestSendNone(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtp.TLSNone, nil)
	if err := s.Send(context.Background(), testMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.WaitMessages(t, 1, time.Second)
	if got, want := len(msgs), 1; got != want {
		t.Fatalf("messages = %d, want %d", got, want)
	}
	m := msgs[0]
	if got, want := strings.Join(m.To, ","), "admin@example.org"; got != want {
		t.Errorf("envelope To = %q, want %q", got, want)
	}
	if got, want := m.From, "syncguard@example.org"; got != want {
		t.Errorf("envelope From = %q, want %q", got, want)
	}
	if got, want := m.Header.Get("To"), "<admin@example.org>"; got != want {
		t.Errorf("To header = %q, want %q", got, want)
	}
	if got, want := m.Subject, testMsg.Subject; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := m.Body, testMsg.Body; got != want {
		t.Errorf("Body = %q, want %q", got, want)
	}
	if got, want := m.Header.Get("Message-ID"), "<outbox-42@syncguard>"; got != want {
		t.Errorf("Message-ID = %q, want %q", got, want)
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	if ct := m.Header.Get("Content-Type"); !strings.Contains(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
		t.Errorf("Content-Type = %q, want text/plain; charset=UTF-8", ct)
	}
}

func TestSendStartTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	s := newSender(t, srv, smtp.TLSStartTLS, nil)
	if err := s.Send(context.Background(), testMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.WaitMessages(t, 1, time.Second)[0].Subject; got != testMsg.Subject {
		t.Errorf("Subject = %q, want %q", got, testMsg.Subject)
	}
}

func TestSendStartTLSUntrustedCert(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	s := newSender(t, srv, smtp.TLSStartTLS, func(c *smtp.Config) { c.TLSConfig = nil })
	err := s.Send(context.Background(), testMsg)
	if err == nil {
		t.Fatal("Send with an untrusted certificate succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error = %q, want it to mention the certificate", err)
	}
	if smtp.IsPermanent(err) {
		t.Errorf("IsPermanent(%q) = true, want false", err)
	}
	if got := len(srv.Messages()); got != 0 {
		t.Errorf("messages = %d, want 0", got)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Implicit: true})
	s := newSender(t, srv, smtp.TLSImplicit, nil)
	if err := s.Send(context.Background(), testMsg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	srv.WaitMessages(t, 1, time.Second)
}

func TestSendStartTLSNotOffered(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtp.TLSStartTLS, nil)
	err := s.Send(context.Background(), testMsg)
	if err == nil {
		t.Fatal("Send succeeded against a server without STARTTLS, want an error")
	}
	if got, want := err.Error(), "smtp: starttls "+srv.Addr+": server does not offer STARTTLS"; !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want prefix %q", got, want)
	}
	if got := srv.Attempts(); got != 0 {
		t.Errorf("attempts = %d, want 0 (nothing sent in the clear)", got)
	}
}

func TestSendAuth(t *testing.T) {
	const password = "s3cret-Pa55"
	for _, tc := range []struct {
		name string
		opts smtptest.Options
		mode smtp.TLSMode
	}{
		{"plain text to localhost", smtptest.Options{User: "mailer", Password: password}, smtp.TLSNone},
		{"starttls", smtptest.Options{TLS: true, User: "mailer", Password: password}, smtp.TLSStartTLS},
		{"implicit tls", smtptest.Options{Implicit: true, User: "mailer", Password: password}, smtp.TLSImplicit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)

			s := newSender(t, srv, tc.mode, func(c *smtp.Config) { c.User, c.Password = "mailer", password })
			if err := s.Send(context.Background(), testMsg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got, want := srv.WaitMessages(t, 1, time.Second)[0].AuthUser, "mailer"; got != want {
				t.Errorf("AuthUser = %q, want %q", got, want)
			}

			bad := newSender(t, srv, tc.mode, func(c *smtp.Config) { c.User, c.Password = "mailer", "wrong-"+password })
			err := bad.Send(context.Background(), testMsg)
			if err == nil {
				t.Fatal("Send with a wrong password succeeded, want an error")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
			if !strings.Contains(err.Error(), "535") || !strings.Contains(err.Error(), "authenticate") {
				t.Errorf("error = %q, want an authentication failure with 535", err)
			}
			// 535: the credentials stay wrong until an admin fixes them.
			if !smtp.IsPermanent(err) {
				t.Errorf("IsPermanent(%q) = false, want true", err)
			}

			anon := newSender(t, srv, tc.mode, nil)
			err = anon.Send(context.Background(), testMsg)
			if err == nil {
				t.Fatal("Send without credentials to a server requiring AUTH succeeded, want an error")
			}
			if !smtp.IsPermanent(err) {
				t.Errorf("IsPermanent(%q) = false, want true", err)
			}
			if got := len(srv.Messages()); got != 1 {
				t.Errorf("messages = %d, want 1", got)
			}
		})
	}
}

func TestSendServerDown(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtp.TLSNone, func(c *smtp.Config) { c.Timeout = time.Second })
	srv.Close()

	start := time.Now()
	err := s.Send(context.Background(), testMsg)
	if err == nil {
		t.Fatal("Send to a closed server succeeded, want an error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send took %v, want at most the timeout", d)
	}
	if got, want := err.Error(), "smtp: connect "+srv.Addr+": connection refused"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(%v, ECONNREFUSED) = false, want true", err)
	}
	if smtp.IsPermanent(err) {
		t.Errorf("IsPermanent(%q) = true, want false", err)
	}

	srv.Restart(t)
	if err := s.Send(context.Background(), testMsg); err != nil {
		t.Fatalf("Send after Restart: %v", err)
	}
	srv.WaitMessages(t, 1, time.Second)
}

func TestSendRefused(t *testing.T) {
	for _, tc := range []struct {
		mode      smtptest.Mode
		wantCode  string
		permanent bool
	}{
		{smtptest.RefuseTemp, "451", false},
		{smtptest.RefusePerm, "550", true},
		{smtptest.CloseMidMessage, "", false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{})
			s := newSender(t, srv, smtp.TLSNone, nil)
			srv.FailNext(1, tc.mode)

			start := time.Now()
			err := s.Send(context.Background(), testMsg)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Send took %v, want it to fail fast", d)
			}
			if tc.wantCode != "" {
				if got, want := err.Error(), "smtp: server rejected message: "+tc.wantCode+" "; !strings.HasPrefix(got, want) {
					t.Errorf("error = %q, want prefix %q", got, want)
				}
			}
			if got := smtp.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%q) = %v, want %v", err, got, tc.permanent)
			}
			if got := len(srv.Messages()); got != 0 {
				t.Errorf("messages = %d, want 0", got)
			}

			// The next attempt is accepted.
			if err := s.Send(context.Background(), testMsg); err != nil {
				t.Fatalf("second Send: %v", err)
			}
			srv.WaitMessages(t, 1, time.Second)
			if got, want := srv.Attempts(), 2; got != want {
				t.Errorf("attempts = %d, want %d", got, want)
			}
		})
	}
}

func TestSendSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c // hold it open, say nothing
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})

	addr := l.Addr().(*net.TCPAddr)
	s, err := smtp.NewSender(smtp.Config{Host: "127.0.0.1", Port: addr.Port, TLS: smtp.TLSNone, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), testMsg)
	d := time.Since(start)
	if err == nil {
		t.Fatal("Send to a silent server succeeded, want an error")
	}
	if d > time.Second {
		t.Errorf("Send took %v, want under 1s", d)
	}
	if !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error = %q, want it to say it timed out", err)
	}
	if smtp.IsPermanent(err) {
		t.Errorf("IsPermanent(%q) = true, want false", err)
	}
}

func TestSendContextCanceled(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}()
	s, err := smtp.NewSender(smtp.Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: smtp.TLSNone, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Send(ctx, testMsg); err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send took %v after its context ended, want under 1s", d)
	}
}

func TestNewSender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     smtp.Config
		wantErr string
	}{
		{"no host", smtp.Config{}, "smtp: host is required"},
		{"bad mode", smtp.Config{Host: "mx", TLS: "ssl"}, `smtp: invalid TLS mode "ssl"`},
		{"bad from", smtp.Config{Host: "mx", From: "not an address"}, `smtp: invalid from address "not an address"`},
		{"bad port", smtp.Config{Host: "mx", Port: 70000}, "smtp: invalid port 70000"},
		{"ok", smtp.Config{Host: "mx"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := smtp.NewSender(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewSender: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("NewSender error = %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}

func TestDefaultPorts(t *testing.T) {
	for mode, want := range map[smtp.TLSMode]string{
		smtp.TLSNone: "mx:25", smtp.TLSStartTLS: "mx:587", smtp.TLSImplicit: "mx:465", "": "mx:587",
	} {
		s, err := smtp.NewSender(smtp.Config{Host: "mx", TLS: mode})
		if err != nil {
			t.Fatalf("NewSender(%q): %v", mode, err)
		}
		if got := s.Addr(); got != want {
			t.Errorf("mode %q: Addr = %q, want %q", mode, got, want)
		}
	}
}

func TestParseTLSMode(t *testing.T) {
	for in, want := range map[string]smtp.TLSMode{
		"none": smtp.TLSNone, "STARTTLS": smtp.TLSStartTLS, " tls ": smtp.TLSImplicit, "": smtp.TLSStartTLS,
	} {
		got, err := smtp.ParseTLSMode(in)
		if err != nil || got != want {
			t.Errorf("ParseTLSMode(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := smtp.ParseTLSMode("ssl"); err == nil {
		t.Error(`ParseTLSMode("ssl") succeeded, want an error`)
	}
}

func TestSendInvalidRecipient(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv, smtp.TLSNone, nil)
	m := testMsg
	m.To = "not an address"
	err := s.Send(context.Background(), m)
	if err == nil {
		t.Fatal("Send to an invalid address succeeded, want an error")
	}
	if !smtp.IsPermanent(err) {
		t.Errorf("IsPermanent(%q) = false, want true", err)
	}
	if got := srv.Attempts(); got != 0 {
		t.Errorf("attempts = %d, want 0", got)
	}
}
