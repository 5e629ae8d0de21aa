// Package ldap writes syncguard's users and groups to an LDAP directory —
// OpenLDAP, or any server with the core, cosine and inetorgperson schemas —
// as the LDAP target of SPEC section 8. Writer implements target.Writer.
//
// # Where objects go
//
// An object keeps its place relative to the base DNs: the part of its
// source DN below Config.SourceBaseDN is kept below Config.TargetBaseDN.
//
//	uid=ann,ou=Sales,dc=corp,dc=example  →  uid=ann,ou=Sales,dc=cloud,dc=example
//
// DNs are parsed with go-ldap's RFC 4514 parser and written back with only
// what RFC 4514 requires escaped (a comma, a plus sign…; UTF-8 as it is). A
// group's member values are the target DNs of its members: a member's Link
// when the exporter knows it, else its source DN re-rooted the same way.
//
// Containers missing on the way are created top-down, each once per
// Writer: parallel calls wait for the first, and entryAlreadyExists (another
// writer was quicker) is success. Their class follows the RDN's type:
//
//	ou=       organizationalUnit
//	cn=       organizationalRole (AD's cn=Users and the like)
//	dc=       domain (cosine schema)
//	o=        organization
//	l=, st=   locality
//	c=        country
//
// Any other type is a permanent error. A container syncguard created is
// never deleted: entries it did not write may live in it.
//
// # The attribute mapping
//
// Users are written as inetOrgPerson (objectClass top, person,
// organizationalPerson, inetOrgPerson), groups as groupOfNames (top,
// groupOfNames). Each target attribute takes the values of the first of its
// source attributes the object has, AD and OpenLDAP names alike (compared
// without regard to case):
//
//	Users                       from the source's
//	cn                          cn, name, displayName (required: else the object's name, else the RDN value)
//	sn                          sn, surname (required: else the first cn)
//	givenName                   givenName
//	initials                    initials
//	displayName                 displayName (single-valued: the first value)
//	mail                        mail
//	uid                         uid, sAMAccountName
//	telephoneNumber             telephoneNumber
//	mobile                      mobile
//	homePhone                   homePhone
//	pager                       pager
//	facsimileTelephoneNumber    facsimileTelephoneNumber
//	title                       title
//	description                 description
//	employeeNumber              employeeNumber, employeeID (single-valued)
//	employeeType                employeeType
//	departmentNumber            departmentNumber, department
//	o                           o, company
//	l                           l
//	st                          st
//	street                      street, streetAddress
//	postalCode                  postalCode
//	postOfficeBox               postOfficeBox
//	physicalDeliveryOfficeName  physicalDeliveryOfficeName
//	roomNumber                  roomNumber
//	preferredLanguage           preferredLanguage (single-valued)
//	labeledURI                  labeledURI, wWWHomePage
//	manager                     manager (a DN: re-rooted)
//	jpegPhoto                   jpegPhoto, thumbnailPhoto (binary: "base64:…" decoded)
//
//	Groups                      from the source's
//	cn                          cn, name, displayName (required: else the object's name, else the RDN value)
//	description                 description
//	owner                       owner, managedBy (a DN: re-rooted)
//	businessCategory            businessCategory
//	o                           o
//	ou                          ou
//	member                      the synced members' target DNs (required: see below)
//
// Empty values are left out, and so is a DN value that is not below the
// source base. The RDN's values are always in the entry, as LDAP requires
// (an RDN type outside the mapping is written too). Other source attributes
// (userPrincipalName, userAccountControl…) are not written, nor is
// Object.Enabled: inetOrgPerson has no attribute for it. Attributes of a
// target entry outside the mapping (a userPassword set in the target) are
// never touched.
//
// # Empty groups
//
// groupOfNames requires member in OpenLDAP's core schema, and a synced
// group may have no members. Such a group gets one member value: the empty
// DN "" (the DN syntax allows it and slapd accepts it), which names no
// entry. The group's own DN was the other candidate; it is not used
// because whoever resolves nested groups would find the group inside
// itself, and it would have to follow every rename of the group. When
// members come back, they replace the empty DN.
//
// # Put
//
//   - CreateFirst, no link: one Add. When the server answers
//     entryAlreadyExists, the object is matched as with LookFirst.
//   - LookFirst, no link (matching): a base read of the mapped DN; else a
//     subtree search below the target base for the object class and the
//     RDN value, e.g. (&(objectClass=inetOrgPerson)(uid=ann)) or
//     (&(objectClass=groupOfNames)(cn=Sales team)). A user whose uid
//     differs from the object's is another person, not a match; two
//     matches are a permanent error (syncguard cannot tell which is the
//     object). A match elsewhere (a held one too) is moved to the mapped
//     DN, then updated; no match is created. An entry of another class at
//     the mapped DN is a permanent error: LDAP cannot change an entry's
//     structural class.
//   - A link: when it differs from the mapped DN, one ModifyDN (new RDN,
//     the old RDN value deleted unless the RDN's attribute type changed,
//     new superior) moves the entry — never a delete and an add, so its
//     entryUUID stays — then one Modify replaces every mapped attribute
//     (a replace without values deletes the attribute; nothing is read
//     first). noSuchObject from either means the entry is gone: it is
//     matched, or created again.
//
// # Held objects (Disable)
//
// Disable moves an object, unchanged (attributes, RDN), into a container of
// its own named after its anchor below ou=syncguard-held,<target base>:
//
//	uid=ann,ou=uuid:5f1c…,ou=syncguard-held,dc=cloud,dc=example
//
// so that two objects held with one DN, at the same time or one after the
// other, never collide. The container's description says where the object
// was and since when. Put with the held link moves the object back (one
// ModifyDN) and removes the emptied container; Delete of a held object
// (purged after the hold) removes it too. Disable of an object already
// held returns its held DN; of an object that is gone, "".
//
// # Errors
//
// Every error is a *target.Error. The server's answers read
// "LDAP 65 object class violation: <the server's diagnostic>" (code, name,
// the server's words). Transient: a refused, reset or lost connection, a
// timeout, a cancelled context, and the result codes about the server
// rather than the data (1 operationsError, 3 timeLimitExceeded, 11
// adminLimitExceeded, 51 busy, 52 unavailable, 80 other). Permanent:
// every other result code — schema, syntax, constraint, naming and access
// errors (65, 21, 19, 17, 34, 64, 50, 49…) — an untrusted certificate or a
// refused StartTLS, and an object syncguard cannot place. The bind password
// never appears in a message.
//
// # Connections
//
// Each call takes a connection of its own from a pool of Concurrency
// connections, dialled and bound when first needed, and runs within the
// Timeout (dial, bind and requests). The writer speaks LDAP on them itself
// (see conn), one request at a time, with go-ldap's types, parsers and
// result codes. A connection whose request failed on the network is closed,
// not reused: the call in flight returns a transient error and the next one
// dials again, which is how the Writer reconnects after a server restart.
// A call that finds its idle connection closed by the server runs once more
// on a new one (every step of a call can be repeated safely). A call's
// context cuts its connection when it ends.
//
// The default concurrency, 8, was measured with BenchmarkExport: 100,000
// users in five OUs and 200 groups of 500 members, Put with CreateFirst
// into a fresh slapd on a 2-core machine, against ldapadd loading the same
// entries from LDIF into another. In two rounds ldapadd took 23.7s on
// average, the writer 1.12× that at concurrency 2, 1.06× at 4 and 1.07× at
// 8: slapd serializes its writes, so both wait on it, and more connections
// only hide the network's latency. syncguard's own CPU was about 7s to
// ldapadd's 2s.
package ldap
