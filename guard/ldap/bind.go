package ldap

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	ntlmssp "github.com/Azure/go-ntlmssp"
	ber "github.com/go-asn1-ber/asn1-ber"
	ldapv3 "github.com/go-ldap/ldap/v3"
)

// bind makes a simple bind with the bind DN and password.
func (s *session) bind() error {
	if s.cfg.BindPassword == "" {
		// As go-ldap's Bind: an empty password would be an unauthenticated bind.
		return ldapv3.NewError(ldapv3.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	op := bindRequest(s.cfg.BindDN)
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, s.cfg.BindPassword, "Password"))
	return s.request(op, opBindResponse)
}

func bindRequest(name string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldapv3.ApplicationBindRequest, nil, "Bind Request")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, "User Name"))
	return op
}

// Object identifiers of SPNEGO (RFC 4178) and of NTLMSSP as a GSS mechanism.
var (
	oidSPNEGO = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2}
	oidNTLM   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
)

// negTokenInit and negTokenResp are SPNEGO's two tokens (RFC 4178 4.2).
type negTokenInit struct {
	MechTypes []asn1.ObjectIdentifier `asn1:"explicit,tag:0"`
	MechToken []byte                  `asn1:"explicit,optional,tag:2"`
}

type negTokenResp struct {
	NegState      asn1.Enumerated       `asn1:"explicit,optional,tag:0"`
	SupportedMech asn1.ObjectIdentifier `asn1:"explicit,optional,tag:1"`
	ResponseToken []byte                `asn1:"explicit,optional,tag:2"`
	MechListMIC   []byte                `asn1:"explicit,optional,tag:3"`
}

// bindNTLM authenticates with NTLM (NTLMv2) inside SASL GSS-SPNEGO, the
// way Windows clients bind to Active Directory when Kerberos is not at
// hand; Samba AD answers it too. The bind DN is DOMAIN\user or
// user@domain; the password never crosses the network, only the answer to
// the server's challenge. No signing or sealing is negotiated: the
// connection is protected by TLS (ldaps:// or StartTLS), which Validate
// requires anywhere but on loopback.
func (s *session) bindNTLM() error {
	if s.cfg.BindPassword == "" {
		return ldapv3.NewError(ldapv3.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	negotiate, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return fmt.Errorf("NTLM: %w", err)
	}
	init, err := asn1.Marshal(negTokenInit{MechTypes: []asn1.ObjectIdentifier{oidNTLM}, MechToken: negotiate})
	if err != nil {
		return fmt.Errorf("NTLM: %w", err)
	}
	token, err := gssInitialToken(init)
	if err != nil {
		return fmt.Errorf("NTLM: %w", err)
	}
	answer, inProgress, err := s.saslBind("GSS-SPNEGO", token)
	if err != nil {
		return err
	}
	var resp negTokenResp
	if !inProgress || unmarshalResp(answer, &resp) != nil || len(resp.ResponseToken) == 0 {
		return errors.New("NTLM: the server did not answer with an NTLM challenge")
	}
	challenge := resp.ResponseToken
	if tc, ok := s.nc.(*tls.Conn); ok {
		if challenge, err = withChannelBinding(challenge, tc.ConnectionState()); err != nil {
			return fmt.Errorf("NTLM: %w", err)
		}
	}
	auth, err := ntlmssp.NewAuthenticateMessage(challenge, s.cfg.BindDN, s.cfg.BindPassword, nil)
	if err != nil {
		return fmt.Errorf("NTLM: %w", err)
	}
	next, err := asn1.Marshal(negTokenResp{ResponseToken: auth})
	if err != nil {
		return fmt.Errorf("NTLM: %w", err)
	}
	if next, err = asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: next}); err != nil {
		return fmt.Errorf("NTLM: %w", err)
	}
	if _, inProgress, err = s.saslBind("GSS-SPNEGO", next); err == nil && inProgress {
		err = errors.New("NTLM: the server asked for more than the NTLM exchange")
	}
	return err
}

// withChannelBinding returns the NTLM CHALLENGE message with the TLS
// channel binding added to its target information (MS-NLMP 2.2.2.1,
// MsvAvChannelBindings), which the AUTHENTICATE message then carries and
// proves: the answer is good only on this TLS connection, so a man in the
// middle cannot relay it. Active Directory with LDAP channel binding
// enforced, and Samba AD by default, refuse NTLM over TLS without it.
func withChannelBinding(challenge []byte, cs tls.ConnectionState) ([]byte, error) {
	const fields = 48 // the CHALLENGE message up to its Version field
	if len(challenge) < fields || len(cs.PeerCertificates) == 0 {
		return nil, errors.New("no NTLM challenge or no server certificate")
	}
	n, off := int(binary.LittleEndian.Uint16(challenge[40:])), int(binary.LittleEndian.Uint32(challenge[44:]))
	if off > len(challenge) || n > len(challenge)-off {
		return nil, errors.New("malformed NTLM challenge")
	}
	var info []byte
	for av := challenge[off : off+n]; len(av) >= 4; {
		id, l := binary.LittleEndian.Uint16(av), int(binary.LittleEndian.Uint16(av[2:]))
		if id == avEOL || l > len(av)-4 {
			break
		}
		if id != avChannelBindings {
			info = append(info, av[:4+l]...)
		}
		av = av[4+l:]
	}
	hash := channelBindingHash(cs.PeerCertificates[0])
	info = binary.LittleEndian.AppendUint16(info, avChannelBindings)
	info = binary.LittleEndian.AppendUint16(info, uint16(len(hash)))
	info = append(info, hash...)
	info = append(info, 0, 0, 0, 0) // MsvAvEOL
	// The new target information goes after the payload; the fields point there.
	out := append([]byte(nil), challenge...)
	binary.LittleEndian.PutUint16(out[40:], uint16(len(info)))
	binary.LittleEndian.PutUint16(out[42:], uint16(len(info)))
	binary.LittleEndian.PutUint32(out[44:], uint32(len(out)))
	return append(out, info...), nil
}

// NTLM target information AV pair IDs (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0
	avChannelBindings = 10
)

// channelBindingHash is the MD5 of the GSS channel bindings (RFC 2744
// 3.11) whose application data is the TLS server end point (RFC 5929 4.1):
// "tls-server-end-point:" and the hash of the server's certificate, with
// the hash of its signature, SHA-256 at least.
func channelBindingHash(cert *x509.Certificate) []byte {
	var h hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = sha512.New384()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write(cert.Raw)
	data := append([]byte("tls-server-end-point:"), h.Sum(nil)...)
	// Initiator and acceptor address types and lengths, all zero, then the
	// application data's length and the data.
	b := make([]byte, 16, 20+len(data))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	sum := md5.Sum(append(b, data...))
	return sum[:]
}

// gssInitialToken wraps SPNEGO's NegTokenInit as a GSS-API initial
// context token (RFC 2743 3.1): [APPLICATION 0] { SPNEGO's OID, [0] init }.
func gssInitialToken(init []byte) ([]byte, error) {
	inner, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: init})
	if err != nil {
		return nil, err
	}
	oid, err := asn1.Marshal(oidSPNEGO)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassApplication, Tag: 0, IsCompound: true, Bytes: append(oid, inner...)})
}

// unmarshalResp decodes a NegTokenResp ([1] NegTokenResp).
func unmarshalResp(b []byte, resp *negTokenResp) error {
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(b, &outer); err != nil {
		return err
	}
	if outer.Class != asn1.ClassContextSpecific || outer.Tag != 1 {
		return errors.New("not a NegTokenResp")
	}
	_, err := asn1.Unmarshal(outer.Bytes, resp)
	return err
}

// saslBind sends a SASL bind with mechanism and credentials and returns the
// server's credentials and whether it wants another step
// (saslBindInProgress); any other result than success is the error.
func (s *session) saslBind(mechanism string, credentials []byte) (answer []byte, inProgress bool, err error) {
	op := bindRequest("")
	sasl := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "SASL")
	sasl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mechanism, "Mechanism"))
	sasl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(credentials), "Credentials"))
	op.AppendChild(sasl)
	id, err := s.send(op, nil)
	if err != nil {
		return nil, false, err
	}
	m, err := s.read(id)
	if err != nil {
		return nil, false, err
	}
	pkt, err := result(m, opBindResponse)
	var le *ldapv3.Error
	if errors.As(err, &le) && le.ResultCode == ldapv3.LDAPResultSaslBindInProgress {
		inProgress, err = true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if op := pkt.Children[1]; len(op.Children) > 3 {
		if c := op.Children[len(op.Children)-1]; c.ClassType == ber.ClassContext && c.Tag == 7 {
			answer = c.Data.Bytes()
		}
	}
	return answer, inProgress, nil
}
