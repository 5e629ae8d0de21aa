package scimtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// record is one stored resource. Its attrs map is replaced, never changed
// in place, so a copy of the map is a snapshot.
type record struct {
	seq               int64
	id                string
	attrs             map[string]any
	created, modified time.Time
	version           int
}

// table holds one resource type, indexed by id, externalId and (users)
// lower-cased userName. Its callers hold Server.mu.
type table struct {
	name   string
	unique string // the attribute unique ignoring case, "" for none
	byID   map[string]*record
	byExt  map[string][]*record
	byName map[string]*record
}

func newTable(name, unique string) *table {
	return &table{name: name, unique: unique, byID: map[string]*record{},
		byExt: map[string][]*record{}, byName: map[string]*record{}}
}

// insert stores attrs as a new record (with id, or a fresh one).
func (t *table) insert(seq int64, id string, attrs map[string]any) *record {
	if id == "" {
		id = newID()
	}
	now := time.Now().UTC()
	rec := &record{seq: seq, id: id, attrs: attrs, created: now, modified: now, version: 1}
	t.byID[id] = rec
	t.index(rec)
	return rec
}

func (t *table) index(rec *record) {
	if ext := str(rec.attrs["externalId"]); ext != "" {
		t.byExt[ext] = append(t.byExt[ext], rec)
	}
	if t.unique != "" {
		t.byName[strings.ToLower(str(rec.attrs[t.unique]))] = rec
	}
}

func (t *table) unindex(rec *record) {
	if ext := str(rec.attrs["externalId"]); ext != "" {
		t.byExt[ext] = slices.DeleteFunc(slices.Clone(t.byExt[ext]), func(r *record) bool { return r == rec })
		if len(t.byExt[ext]) == 0 {
			delete(t.byExt, ext)
		}
	}
	if t.unique != "" {
		delete(t.byName, strings.ToLower(str(rec.attrs[t.unique])))
	}
}

// update gives rec new attributes.
func (t *table) update(rec *record, attrs map[string]any) {
	t.unindex(rec)
	rec.attrs = attrs
	rec.modified = time.Now().UTC()
	rec.version++
	t.index(rec)
}

func (t *table) remove(id string) bool {
	rec, ok := t.byID[id]
	if ok {
		t.unindex(rec)
		delete(t.byID, id)
	}
	return ok
}

// all returns the records in creation order.
func (t *table) all() []*record {
	recs := slices.Collect(maps.Values(t.byID))
	slices.SortFunc(recs, func(a, b *record) int { return int(a.seq - b.seq) })
	return recs
}

// get returns the record with id id, if any.
func (t *table) get(id string) []*record {
	if rec, ok := t.byID[id]; ok {
		return []*record{rec}
	}
	return nil
}

// withExternalID returns the records with externalId ext, oldest first.
func (t *table) withExternalID(ext string) []*record {
	recs := slices.Clone(t.byExt[ext])
	slices.SortFunc(recs, func(a, b *record) int { return int(a.seq - b.seq) })
	return recs
}

// checkUnique refuses attrs whose unique attribute another record (not
// the one with id self) already has.
func (t *table) checkUnique(attrs map[string]any, self string) error {
	if t.unique == "" {
		return nil
	}
	v := str(attrs[t.unique])
	if other, ok := t.byName[strings.ToLower(v)]; ok && other.id != self {
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Status: http.StatusConflict,
			Detail: fmt.Sprintf("%s %q is already taken", t.unique, v)}
	}
	return nil
}

// resource is rec as the SCIM library answers it.
func (rec *record) resource() scim.Resource {
	created, modified := rec.created, rec.modified // the answer is written after the lock is released
	r := scim.Resource{
		ID:         rec.id,
		Attributes: maps.Clone(rec.attrs),
		Meta: scim.Meta{
			Created: &created, LastModified: &modified,
			Version: fmt.Sprintf(`W/"%d"`, rec.version),
		},
	}
	if ext, ok := rec.attrs["externalId"].(string); ok {
		r.ExternalID = optional.NewString(ext)
	}
	return r
}

func notFound(id string) error { return scimerrors.ScimErrorResourceNotFound(id) }

// handler serves one resource type from its table.
type handler struct {
	s *Server
	t *table
}

var _ scim.ResourceHandler = (*handler)(nil)

// Create stores a new resource.
func (h *handler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if err := h.t.checkUnique(attrs, ""); err != nil {
		return scim.Resource{}, err
	}
	return h.t.insert(h.s.nextSeq(), "", attrs).resource(), nil
}

// Get returns one resource.
func (h *handler) Get(_ *http.Request, id string) (scim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	rec, ok := h.t.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	return rec.resource(), nil
}

// GetAll returns one page of the resources that pass the filter.
func (h *handler) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	recs := h.t.find(params.FilterValidator)
	start := min(max(params.StartIndex, 1)-1, len(recs))
	end := min(start+max(params.Count, 0), len(recs))
	page := scim.Page{TotalResults: len(recs), Resources: []scim.Resource{}}
	for _, rec := range recs[start:end] {
		page.Resources = append(page.Resources, rec.resource())
	}
	return page, nil
}

// find returns the records that pass v (all without one), in creation
// order: eq on id, externalId, userName or displayName is answered here
// (with the value unescaped, which the library does not do), anything else
// by the library's filter on every record.
func (t *table) find(v *scimfilter.Validator) []*record {
	if v == nil {
		return t.all()
	}
	if attr, value, ok := simpleEq(v.GetFilter()); ok {
		switch attr {
		case "id":
			return t.get(value)
		case "externalid":
			return t.withExternalID(value)
		case strings.ToLower(t.unique):
			if rec, ok := t.byName[strings.ToLower(value)]; ok {
				return []*record{rec}
			}
			return nil
		case "displayname":
			return slices.DeleteFunc(t.all(), func(r *record) bool { return !strings.EqualFold(str(r.attrs["displayName"]), value) })
		}
	}
	return slices.DeleteFunc(t.all(), func(r *record) bool {
		a := maps.Clone(r.attrs)
		a["id"] = r.id
		return v.PassesFilter(a) != nil
	})
}

// simpleEq reads `attr eq "value"` (attr lower-cased, value unescaped).
func simpleEq(e filter.Expression) (attr, value string, ok bool) {
	x, isAttr := e.(*filter.AttributeExpression)
	if !isAttr || !strings.EqualFold(string(x.Operator), string(filter.EQ)) ||
		x.AttributePath.URIPrefix != nil || x.AttributePath.SubAttribute != nil {
		return "", "", false
	}
	raw, isString := x.CompareValue.(string)
	if !isString || json.Unmarshal([]byte(`"`+raw+`"`), &value) != nil {
		return "", "", false
	}
	return strings.ToLower(x.AttributePath.AttributeName), value, true
}

// Replace replaces every attribute of a resource (PUT).
func (h *handler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	rec, ok := h.t.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	if err := h.t.checkUnique(attrs, id); err != nil {
		return scim.Resource{}, err
	}
	h.t.update(rec, attrs)
	return rec.resource(), nil
}

// Patch applies PATCH operations, all or none.
func (h *handler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	rec, ok := h.t.byID[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	attrs := maps.Clone(rec.attrs)
	for _, op := range ops {
		if err := applyOp(attrs, op); err != nil {
			return scim.Resource{}, err
		}
	}
	if err := h.t.checkUnique(attrs, id); err != nil {
		return scim.Resource{}, err
	}
	h.t.update(rec, attrs)
	return rec.resource(), nil
}

// Delete removes a resource.
func (h *handler) Delete(_ *http.Request, id string) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if !h.t.remove(id) {
		return notFound(id)
	}
	return nil
}

// canonical maps attribute names, lower-cased, to their schema spelling.
var canonical = func() map[string]string {
	m := map[string]string{"externalid": "externalId"}
	for _, s := range []schema.Schema{schema.CoreUserSchema(), schema.CoreGroupSchema()} {
		for _, a := range s.Attributes {
			m[strings.ToLower(a.Name())] = a.Name()
		}
	}
	return m
}()

func canonicalName(name string) string {
	if c, ok := canonical[strings.ToLower(name)]; ok {
		return c
	}
	return name
}

// applyOp applies one validated PATCH operation to attrs (RFC 7644
// section 3.5.2). Without a path its value maps paths to values.
func applyOp(attrs map[string]any, op scim.PatchOperation) error {
	if op.Path != nil {
		return applyPath(attrs, strings.ToLower(op.Op), *op.Path, op.Value)
	}
	values, ok := op.Value.(map[string]any)
	if !ok {
		return scimerrors.ScimErrorInvalidValue
	}
	for k, v := range values {
		if strings.HasPrefix(k, "urn:") && !strings.Contains(k, ":core:") { // an extension's container
			attrs[k] = v
			continue
		}
		p, err := filter.ParsePath([]byte(k))
		if err != nil {
			return scimerrors.ScimErrorInvalidPath
		}
		if err := applyPath(attrs, strings.ToLower(op.Op), p, v); err != nil {
			return err
		}
	}
	return nil
}

// applyPath applies add, replace or remove at one path: an attribute, a
// sub-attribute (name.givenName), or for remove the values of a
// multi-valued attribute that pass a filter (members[value eq "…"]).
func applyPath(attrs map[string]any, op string, p filter.Path, value any) error {
	name := canonicalName(p.AttributePath.AttributeName)
	sub := p.AttributePath.SubAttributeName()
	switch {
	case p.ValueExpression != nil:
		if op != scim.PatchOperationRemove || p.SubAttribute != nil {
			return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeNoTarget,
				Detail: "scimtest applies a value filter only to remove whole values"}
		}
		keep := func(v any) bool {
			m, ok := v.(map[string]any)
			return !ok || scimfilter.NewFilterValidator(p.ValueExpression, schema.Schema{Attributes: subAttributes(name)}).PassesFilter(m) != nil
		}
		setAttr(attrs, name, slices.DeleteFunc(slices.Clone(list(attrs[name])), func(v any) bool { return !keep(v) }))
	case sub != "":
		m := maps.Clone(asMap(attrs[name]))
		if op == scim.PatchOperationRemove {
			delete(m, sub)
		} else {
			m[sub] = value
		}
		setAttr(attrs, name, m)
	case op == scim.PatchOperationRemove && len(list(value)) > 0:
		setAttr(attrs, name, slices.DeleteFunc(slices.Clone(list(attrs[name])), func(v any) bool { return containsValue(list(value), v) }))
	case op == scim.PatchOperationRemove:
		delete(attrs, name)
	case op == scim.PatchOperationAdd && value != nil && isList(value):
		merged := slices.Clone(list(attrs[name]))
		for _, v := range list(value) {
			if !containsValue(merged, v) {
				merged = append(merged, v)
			}
		}
		setAttr(attrs, name, merged)
	default: // replace, or add of a single value
		setAttr(attrs, name, value)
	}
	return nil
}

// subAttributes are the sub-attributes of a multi-valued attribute.
func subAttributes(name string) schema.Attributes {
	for _, s := range []schema.Schema{schema.CoreUserSchema(), schema.CoreGroupSchema()} {
		if a, ok := s.Attributes.ContainsAttribute(name); ok {
			return scimfilter.MultiValuedFilterAttributes(a)
		}
	}
	return nil
}

// setAttr sets or, for an empty value, removes an attribute.
func setAttr(attrs map[string]any, name string, v any) {
	switch x := v.(type) {
	case nil:
		delete(attrs, name)
		return
	case []any:
		if len(x) == 0 {
			delete(attrs, name)
			return
		}
	case map[string]any:
		if len(x) == 0 {
			delete(attrs, name)
			return
		}
	}
	attrs[name] = v
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

// containsValue says whether values holds v: the same "value" for complex
// values, the same value otherwise.
func containsValue(values []any, v any) bool {
	key := func(x any) string {
		if m, ok := x.(map[string]any); ok {
			x = m["value"]
		}
		return fmt.Sprint(x)
	}
	for _, x := range values {
		if key(x) == key(v) {
			return true
		}
	}
	return false
}
