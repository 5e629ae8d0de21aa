package ldap

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// tlsConfig is the TLS configuration of a connection: cfg.TLSConfig (or
// system roots), the URL's host as the name checked unless it names
// another, and with a pin, trust in exactly the pinned certificate.
func (s *session) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ServerName == "" {
		c.ServerName = s.t.u.Hostname()
	}
	if pin := s.t.pin; pin != nil {
		// The pin replaces the checks of names and chain: a certificate
		// without subjectAltName (Samba's own) or from a private CA is
		// trusted when it is the very certificate the admin pinned.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			if sum := sha256.Sum256(leaf.Raw); !bytes.Equal(sum[:], pin) {
				return &certError{pin: Pin(leaf), err: fmt.Errorf("the server's certificate (%s) is not the pinned one: its fingerprint is %s, the pin %s; if the certificate was renewed, check the new fingerprint on the server before pinning it",
					leaf.Subject, Pin(leaf), "sha256:"+hex.EncodeToString(pin))}
			}
			return nil
		}
	}
	return c
}

// Pin returns the pin of a certificate: "sha256:" and the lower-case hex
// SHA-256 of its DER bytes.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// certError is a certificate refused during the TLS handshake, with the
// pin of the server's certificate.
type certError struct {
	pin string
	err error
}

func (e *certError) Error() string { return e.err.Error() }
func (e *certError) Unwrap() error { return e.err }

// handshakeError describes a failed TLS handshake; a certificate that did
// not verify is named, with its fingerprint.
func handshakeError(err error) error {
	var ce *certError
	if errors.As(err, &ce) {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) && len(ve.UnverifiedCertificates) > 0 {
		leaf := ve.UnverifiedCertificates[0]
		return &certError{pin: Pin(leaf), err: fmt.Errorf("TLS handshake: %w (the server's certificate: %s, fingerprint %s)", err, leaf.Subject, Pin(leaf))}
	}
	return fmt.Errorf("TLS handshake: %w", err)
}
