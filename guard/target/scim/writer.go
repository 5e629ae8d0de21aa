package scim

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/syncguard/syncguard/guard/target"
)

// kind is what differs between users and groups.
type kind struct {
	endpoint string // relative to the base URL
	noun     string
	// nameAttr is the attribute Put matches by after externalId.
	nameAttr string
	build    func(*target.Object) (*Resource, error)
}

var (
	users  = &kind{endpoint: "/Users", noun: "user", nameAttr: "userName", build: UserResource}
	groups = &kind{endpoint: "/Groups", noun: "group", nameAttr: "displayName", build: GroupResource}
)

// kindOf returns the kind of obj, or a permanent *target.Error.
func kindOf(obj *target.Object) (*kind, error) {
	if obj == nil {
		return nil, target.Permanent("SCIM: no object given")
	}
	switch obj.Type {
	case target.TypeUser:
		return users, nil
	case target.TypeGroup:
		return groups, nil
	}
	return nil, target.Permanent("SCIM: %s is of type %q, neither user nor group", obj.Anchor, obj.Type)
}

// path is where the resource with SCIM id id lives.
func (k *kind) path(id string) string { return k.endpoint + "/" + url.PathEscape(id) }

// name is the value Put matches r by after its externalId.
func (k *kind) name(r *Resource) string {
	if k == users {
		return r.UserName
	}
	return r.DisplayName
}

// Put makes the service hold obj and returns its SCIM id (see the
// package doc and target.Writer). On error it returns link as given.
func (w *Writer) Put(ctx context.Context, obj *target.Object, link target.Link, find target.Find) (target.Link, error) {
	ctx, cancel := w.bound(ctx)
	defer cancel()
	k, err := kindOf(obj)
	if err != nil {
		return link, err
	}
	res, err := k.build(obj)
	if err != nil {
		return link, err
	}
	if link != "" {
		err := w.update(ctx, k, string(link), res)
		if status(err) != http.StatusNotFound {
			return link, err
		}
		find = target.LookFirst // gone from the service: made again
	}
	if find == target.LookFirst {
		id, err := w.match(ctx, k, res)
		if err != nil {
			return link, err
		}
		if id != "" {
			return w.updated(ctx, k, id, res, link)
		}
	}
	id, err := w.create(ctx, k, res)
	if status(err) == http.StatusConflict && find == target.CreateFirst {
		found, merr := w.match(ctx, k, res)
		if merr != nil {
			return link, merr
		}
		if found == "" { // the conflict is over something else
			return link, err
		}
		return w.updated(ctx, k, found, res, link)
	}
	if err != nil {
		return link, err
	}
	return target.Link(id), nil
}

// updated updates the resource Put found and returns its link, or the
// link Put was given with the error.
func (w *Writer) updated(ctx context.Context, k *kind, id string, res *Resource, link target.Link) (target.Link, error) {
	if err := w.update(ctx, k, id, res); err != nil {
		return link, err
	}
	return target.Link(id), nil
}

// match finds the resource res stands for: by externalId, then by name.
// "" when there is none. A resource found by name that carries another
// externalId is someone else's: a permanent error, never a match.
func (w *Writer) match(ctx context.Context, k *kind, res *Resource) (string, error) {
	found, err := w.lookup(ctx, k, "externalId", res.ExternalID)
	if err != nil || found != nil {
		return found.id(), err
	}
	name := k.name(res)
	found, err = w.lookup(ctx, k, k.nameAttr, name)
	if err != nil || found == nil {
		return "", err
	}
	if found.ExternalID != "" && found.ExternalID != res.ExternalID {
		return "", target.Permanent("SCIM: a %s with %s %q already exists for another object (externalId %q); syncguard leaves it alone",
			k.noun, k.nameAttr, name, found.ExternalID)
	}
	return found.ID, nil
}

// id is a found resource's id, "" for none.
func (r *Resource) id() string {
	if r == nil {
		return ""
	}
	return r.ID
}

// listResponse is a page of a query's answer.
type listResponse struct {
	TotalResults int        `json:"totalResults"`
	Resources    []Resource `json:"Resources"`
}

// lookup returns the resource of kind k whose attr equals value, nil when
// there is none. Every answer is checked against value: a service that
// ignores the filter does not make a match.
func (w *Writer) lookup(ctx context.Context, k *kind, attr, value string) (*Resource, error) {
	if value == "" {
		return nil, nil
	}
	filter := attr + ` eq "` + escapeFilter(value) + `"`
	var page listResponse
	if err := w.do(ctx, http.MethodGet, k.endpoint+"?filter="+queryEscape(filter), nil, &page); err != nil {
		return nil, err
	}
	for i := range page.Resources {
		r := &page.Resources[i]
		got := map[string]string{"externalId": r.ExternalID, "userName": r.UserName, "displayName": r.DisplayName}[attr]
		if r.ID != "" && (got == value || (attr != "externalId" && strings.EqualFold(got, value))) {
			return r, nil
		}
	}
	return nil, nil
}

// escapeFilter quotes value for a SCIM filter string (RFC 7644 section
// 3.4.2.2 takes JSON's string syntax).
func escapeFilter(value string) string {
	var b strings.Builder
	for _, r := range value {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			const hex = "0123456789ABCDEF"
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xF])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// queryEscape escapes a query value with %20 for spaces, which every
// service reads as a space (not all read "+" so).
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// create POSTs res and returns the new resource's id.
func (w *Writer) create(ctx context.Context, k *kind, res *Resource) (string, error) {
	var created created
	if err := w.do(ctx, http.MethodPost, k.endpoint, res, &created); err != nil {
		return "", err
	}
	if created.ID == "" {
		return "", target.Permanent("SCIM 201: the service created the %s %q but gave no id", k.noun, res.ExternalID)
	}
	return created.ID, nil
}

// update makes the resource id hold res.
func (w *Writer) update(ctx context.Context, k *kind, id string, res *Resource) error {
	return w.modify(ctx, k, id, res.patch(), func() (any, error) { return res, nil })
}

// modify changes the resource id: with patch where the service has
// PATCH, else with a PUT of what put returns.
func (w *Writer) modify(ctx context.Context, k *kind, id string, patch patchRequest, put func() (any, error)) error {
	usePatch, err := w.patchSupported(ctx)
	if err != nil {
		return err
	}
	if usePatch {
		err := w.do(ctx, http.MethodPatch, k.path(id), patch, nil)
		if status(err) != http.StatusNotImplemented {
			return err
		}
		w.patch.Store(patchNo) // it said it had PATCH, but it has not
	}
	body, err := put()
	if err != nil {
		return err
	}
	return w.do(ctx, http.MethodPut, k.path(id), body, nil)
}

// Delete removes the object at link; one already gone is no error. With
// no link it deletes what carries obj's anchor as externalId, if anything.
func (w *Writer) Delete(ctx context.Context, obj *target.Object, link target.Link) error {
	ctx, cancel := w.bound(ctx)
	defer cancel()
	k, id, err := w.resolve(ctx, obj, link)
	if err != nil || id == "" {
		return err
	}
	err = w.do(ctx, http.MethodDelete, k.path(id), nil, nil)
	if status(err) == http.StatusNotFound {
		return nil
	}
	return err
}

// Disable holds the object at link: a user gets active=false, a group
// loses its members (and is kept). It returns the link while held: "" when
// the object is not in the service (nothing to hold).
func (w *Writer) Disable(ctx context.Context, obj *target.Object, link target.Link) (target.Link, error) {
	ctx, cancel := w.bound(ctx)
	defer cancel()
	k, id, err := w.resolve(ctx, obj, link)
	if err != nil || id == "" {
		return link, err
	}
	err = w.hold(ctx, k, id)
	if status(err) == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return link, err
	}
	return target.Link(id), nil
}

// resolve returns obj's kind and the id to act on: link, or without one
// the id of what carries obj's anchor as externalId ("" when nothing does).
func (w *Writer) resolve(ctx context.Context, obj *target.Object, link target.Link) (*kind, string, error) {
	k, err := kindOf(obj)
	if err != nil || link != "" {
		return k, string(link), err
	}
	found, err := w.lookup(ctx, k, "externalId", obj.Anchor)
	return k, found.id(), err
}

// hold disables the resource id: with PATCH only active or members are
// touched; with PUT the resource is read, changed and written back whole.
func (w *Writer) hold(ctx context.Context, k *kind, id string) error {
	op := patchOp{Op: "replace", Value: map[string]any{"active": false}}
	if k == groups {
		op = patchOp{Op: "remove", Path: "members"}
	}
	patch := patchRequest{Schemas: []string{patchSchema}, Operations: []patchOp{op}}
	return w.modify(ctx, k, id, patch, func() (any, error) {
		var current map[string]any
		if err := w.do(ctx, http.MethodGet, k.path(id), nil, &current); err != nil {
			return nil, err
		}
		delete(current, "meta")
		if k == groups {
			delete(current, "members")
		} else {
			current["active"] = false
		}
		return current, nil
	})
}
