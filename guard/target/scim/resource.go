package scim

import (
	"strings"

	"github.com/syncguard/syncguard/guard/target"
)

// The SCIM schema URNs syncguard writes (RFC 7643 sections 4 and 8.7, RFC
// 7644 section 3.5.2).
const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// Resource is a SCIM user or group as syncguard writes it: the attributes
// it manages and nothing else. Reading an answer into it keeps id and
// externalId (and userName), which is all a lookup needs.
type Resource struct {
	Schemas     []string `json:"schemas,omitempty"`
	ID          string   `json:"id,omitempty"`
	ExternalID  string   `json:"externalId,omitempty"`
	UserName    string   `json:"userName,omitempty"`
	Name        *Name    `json:"name,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	Emails      []Email  `json:"emails,omitempty"`
	Active      *bool    `json:"active,omitempty"`
	Members     []Member `json:"members,omitempty"`
}

// Name is a user's name (RFC 7643 section 4.1.1).
type Name struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Formatted  string `json:"formatted,omitempty"`
}

// Email is one of a user's addresses.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Member is one member of a group, by its SCIM id.
type Member struct {
	Value string `json:"value"`
}

// The source attributes each SCIM attribute is taken from, first found
// first. AD and OpenLDAP spellings alike; names are matched ignoring case.
var (
	userNameFrom    = []string{"userPrincipalName", "mail", "uid", "sAMAccountName", "cn"}
	givenNameFrom   = []string{"givenName"}
	familyNameFrom  = []string{"sn", "surname"}
	formattedFrom   = []string{"cn"}
	displayNameFrom = []string{"displayName"}
	groupNameFrom   = []string{"displayName", "cn", "sAMAccountName"}
	mailFrom        = "mail"
)

// UserResource maps a source user to the SCIM User syncguard writes:
//
//	externalId        the anchor
//	userName          userPrincipalName, else mail, else uid, else
//	                  sAMAccountName, else cn, else the object's name
//	name.givenName    givenName
//	name.familyName   sn (or surname)
//	name.formatted    cn, else "givenName sn"
//	displayName       displayName, else the object's name, else name.formatted
//	emails            every mail value, type "work", the first one primary
//	active            Enabled
//
// Values stored as "base64:…" (binary, not text) are skipped. A user with
// nothing to make a userName from is a permanent *target.Error.
func UserResource(obj *target.Object) (*Resource, error) {
	userName, err := required(obj, "userName", userNameFrom)
	if err != nil {
		return nil, err
	}
	active := obj.Enabled
	r := &Resource{
		Schemas:    []string{userSchema},
		ExternalID: obj.Anchor,
		UserName:   userName,
		Active:     &active,
	}
	n := Name{
		GivenName:  first(obj.Attributes, givenNameFrom...),
		FamilyName: first(obj.Attributes, familyNameFrom...),
		Formatted:  first(obj.Attributes, formattedFrom...),
	}
	if n.Formatted == "" {
		n.Formatted = strings.TrimSpace(n.GivenName + " " + n.FamilyName)
	}
	if n != (Name{}) {
		r.Name = &n
	}
	r.DisplayName = first(obj.Attributes, displayNameFrom...)
	if r.DisplayName == "" {
		r.DisplayName = strings.TrimSpace(obj.Name)
	}
	if r.DisplayName == "" {
		r.DisplayName = n.Formatted
	}
	for _, v := range values(obj.Attributes, mailFrom) {
		r.Emails = append(r.Emails, Email{Value: v, Type: "work", Primary: len(r.Emails) == 0})
	}
	return r, nil
}

// GroupResource maps a source group to the SCIM Group syncguard writes:
//
//	externalId   the anchor
//	displayName  displayName, else cn, else sAMAccountName, else the
//	             object's name
//	members      the SCIM id (Member.Link) of every member exported so
//	             far; members without a link are left out
//
// A group with nothing to name it by is a permanent *target.Error.
func GroupResource(obj *target.Object) (*Resource, error) {
	name, err := required(obj, "displayName", groupNameFrom)
	if err != nil {
		return nil, err
	}
	r := &Resource{Schemas: []string{groupSchema}, ExternalID: obj.Anchor, DisplayName: name}
	seen := make(map[string]bool, len(obj.Members))
	for _, m := range obj.Members {
		if m.Link == "" || seen[m.Link] {
			continue
		}
		seen[m.Link] = true
		r.Members = append(r.Members, Member{Value: m.Link})
	}
	return r, nil
}

// required returns the first usable value of from, else the object's
// name; with neither, a permanent *target.Error naming what is missing.
func required(obj *target.Object, attr string, from []string) (string, error) {
	if v := first(obj.Attributes, from...); v != "" {
		return v, nil
	}
	if v, ok := usable(obj.Name); ok {
		return v, nil
	}
	return "", target.Permanent("SCIM: %s %s has no %s (none of %s, and no name)", obj.Type, obj.Anchor, attr, strings.Join(from, ", "))
}

// first returns the first usable value of the first of names that has one.
func first(attrs map[string][]string, names ...string) string {
	for _, name := range names {
		for _, v := range lookup(attrs, name) {
			if v, ok := usable(v); ok {
				return v
			}
		}
	}
	return ""
}

// values returns the usable values of one attribute.
func values(attrs map[string][]string, name string) []string {
	var out []string
	for _, v := range lookup(attrs, name) {
		if v, ok := usable(v); ok {
			out = append(out, v)
		}
	}
	return out
}

// lookup returns the values of an attribute, its name matched ignoring
// case as LDAP does.
func lookup(attrs map[string][]string, name string) []string {
	if vs, ok := attrs[name]; ok {
		return vs
	}
	for k, vs := range attrs {
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

// usable trims a value; empty and binary ("base64:…") values are not.
func usable(v string) (string, bool) {
	v = strings.TrimSpace(v)
	return v, v != "" && !strings.HasPrefix(v, "base64:")
}

// isUser says whether r is a User (else a Group).
func (r *Resource) isUser() bool { return len(r.Schemas) > 0 && r.Schemas[0] == userSchema }

// patchOp is one operation of a PATCH request.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// patchRequest is the body of a PATCH request.
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// patch returns the PATCH that makes a resource hold r: one replace of the
// attributes r has, and a remove for each managed attribute it lacks.
// Attributes syncguard does not manage are left as they are.
func (r *Resource) patch() patchRequest {
	value := *r
	value.Schemas, value.ID = nil, ""
	ops := []patchOp{{Op: "replace", Value: &value}}
	remove := func(path string, empty bool) {
		if empty {
			ops = append(ops, patchOp{Op: "remove", Path: path})
		}
	}
	if r.isUser() {
		remove("name", r.Name == nil)
		remove("displayName", r.DisplayName == "")
		remove("emails", len(r.Emails) == 0)
	} else {
		remove("members", len(r.Members) == 0)
	}
	return patchRequest{Schemas: []string{patchSchema}, Operations: ops}
}
