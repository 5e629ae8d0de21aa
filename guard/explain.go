package guard

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/syncguard/syncguard/guard/ldap"
)

// Explain words a source error for an admin: the reader's own message (which
// names the step, the server and the bind DN, never the password), and for
// the common causes what to check.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if hint := hintFor(err); hint != "" && !strings.Contains(msg, "AD error data") && !strings.Contains(msg, "--tls-pin") {
		msg += ". " + hint
	}
	return msg
}

// hintFor is what to check for the error, or "".
func hintFor(err error) string {
	var le *ldap.Error
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	switch {
	case errors.As(err, &dns):
		return "The host name does not resolve: check its spelling, or use the server's address."
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Nothing answers at that address: check the host and the port (389 for ldap://, 636 for ldaps://), and that the server runs."
	case errors.Is(err, ldap.ErrTimeout):
		return "The server did not answer in time: check the address, and that no firewall drops the connection."
	case errors.As(err, &unknownCA):
		return "The server's certificate is signed by a CA this host does not trust: give the CA file, or pin the certificate."
	case errors.Is(err, fs.ErrNotExist):
		return "syncguard reads the file on the host where it runs: give its path there."
	case errors.Is(err, fs.ErrPermission):
		return "syncguard may not read the file: check its owner and mode."
	case !errors.As(err, &le):
		return ""
	}
	switch {
	case le.Op == "starttls":
		return "The server did not take StartTLS: it may offer TLS on ldaps:// (port 636) instead."
	case le.Code == 49:
		return "Check the bind DN and the password."
	case le.Code == 32:
		return "The base DN does not exist on this server, or the bind account may not see it."
	case le.Code == 50:
		return "The bind account may not read there: ask the directory's admins for read access."
	case le.Code == 8 || le.Code == 13:
		return "The server wants an encrypted connection: use ldaps:// or StartTLS."
	}
	return ""
}
