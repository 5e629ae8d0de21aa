-- How a configuration binds to its LDAP source and trusts it: the bind
-- method (simple, or ntlm for Active Directory shops that allow nothing
-- else), a pin of the server's certificate ("sha256:<hex>", for
-- certificates without subjectAltName such as Samba's own) and the name
-- checked in the certificate when it is not the URL's host.
ALTER TABLE configurations ADD COLUMN bind_method TEXT NOT NULL DEFAULT 'simple';
ALTER TABLE configurations ADD COLUMN tls_pin TEXT NOT NULL DEFAULT '';
ALTER TABLE configurations ADD COLUMN tls_server_name TEXT NOT NULL DEFAULT '';
