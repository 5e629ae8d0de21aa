// Package scimtest runs a real SCIM 2.0 service (RFC 7643, RFC 7644) in the
// test process, on github.com/elimity-com/scim over httptest, listening on
// 127.0.0.1 with a free port.
//
// It keeps Users (core schema, enterprise extension optional) and Groups in
// memory: create, get, list with filters (eq on externalId, userName and
// displayName answered from an index, any other filter the library reads
// by a scan) and pagination, replace (PUT), PATCH and delete. userName is
// unique (409 uniqueness) ignoring case; ids are generated. Every request
// must carry the bearer token.
//
// Tests read the server's own state (Users, Groups, UserByExternalID…) and
// count its requests (Requests), never through syncguard's code. They can
// make it answer as real services fail: a status (429 with Retry-After,
// 500, 503), a connection cut before or after the request was served, an
// answer cut halfway, a reset, or a slow answer (FailNext, Options.Fault).
package scimtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Base is the path the service answers under.
const Base = "/scim/v2"

// Options configure a Server.
type Options struct {
	// Token is the bearer token the server wants; a random one when "".
	Token string
	// NoPatch makes the ServiceProviderConfig say PATCH is not supported,
	// and PATCH answer 501.
	NoPatch bool
	// TLS serves HTTPS with httptest's certificate (see Server.CertPEM);
	// URL is then scim+https://.
	TLS bool
	// NoLocation leaves the Location header out of answers to creates, as
	// some services do: clients must read the new id from the body.
	NoLocation bool
	// PageSize is the most resources one answer lists (100 when 0).
	PageSize int
	// Users and Groups are there from the start (a user's or group's ID
	// is generated when empty); they are how matching is tested.
	Users  []User
	Groups []Group
	// Fault, when set, is asked about every request that FailNext has
	// not claimed; its zero Fault serves the request normally.
	Fault func(r *http.Request) Fault
}

// User is a SCIM user as the server holds it.
type User struct {
	ID, ExternalID, UserName             string
	GivenName, FamilyName, FormattedName string
	DisplayName                          string
	Emails                               []Email
	// Active is the stored active attribute (false when absent).
	Active bool
}

// Email is one of a user's addresses.
type Email struct {
	Value, Type string
	Primary     bool
}

// Group is a SCIM group as the server holds it.
type Group struct {
	ID, ExternalID, DisplayName string
	// Members are the members' SCIM ids, in stored order.
	Members []string
}

// Server is a running SCIM service. It stops when the test ends.
type Server struct {
	// URL is the address syncguard takes: scim+http://127.0.0.1:PORT/scim/v2
	// (scim+https:// with Options.TLS).
	URL string
	// HTTPURL is the same address as a plain http(s):// URL.
	HTTPURL string
	// Token is the bearer token the server wants.
	Token string

	opts    Options
	hs      *httptest.Server
	scim    scim.Server
	closing chan struct{}
	once    sync.Once

	mu     sync.Mutex // guards the state below and the tables' contents
	seq    int64
	users  *table
	groups *table
	counts map[string]int
	faults []*queued
}

// Start starts a server and stops it when tb ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{
		Token:   opts.Token,
		opts:    opts,
		closing: make(chan struct{}),
		users:   newTable("User", "userName"),
		groups:  newTable("Group", ""),
		counts:  make(map[string]int),
	}
	if s.Token == "" {
		s.Token = "scimtest-" + rand.Text()
	}
	for _, u := range opts.Users {
		s.users.insert(s.nextSeq(), u.ID, u.attributes())
	}
	for _, g := range opts.Groups {
		s.groups.insert(s.nextSeq(), g.ID, g.attributes())
	}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Handshakes refused by clients that do not trust the certificate are
	// what TLS tests are about, not news.
	s.hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	s.HTTPURL = scheme + "://" + s.hs.Listener.Addr().String() + Base
	s.URL = "scim+" + s.HTTPURL
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			SupportFiltering: true,
			SupportPatch:     !opts.NoPatch,
			MaxResults:       opts.PageSize,
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token",
				Description: "Authentication with a bearer token", Primary: true,
			}},
		},
		ResourceTypes: s.resourceTypes(),
	}, scim.WithBaseURL(s.HTTPURL))
	if err != nil {
		tb.Fatalf("scimtest: %v", err)
	}
	s.scim = srv
	if opts.TLS {
		s.hs.StartTLS()
	} else {
		s.hs.Start()
	}
	tb.Cleanup(s.Close)
	return s
}

// resourceTypes are the service's Users and Groups.
func (s *Server) resourceTypes() []scim.ResourceType {
	return []scim.ResourceType{{
		ID:               optional.NewString("User"),
		Name:             "User",
		Endpoint:         "/Users",
		Description:      optional.NewString("User Account"),
		Schema:           schema.CoreUserSchema(),
		SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
		Handler:          &handler{s: s, t: s.users},
	}, {
		ID:          optional.NewString("Group"),
		Name:        "Group",
		Endpoint:    "/Groups",
		Description: optional.NewString("Group"),
		Schema:      schema.CoreGroupSchema(),
		Handler:     &handler{s: s, t: s.groups},
	}}
}

// Close stops the server: requests held by a Delay end at once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.hs.Close()
	})
}

// CertPEM is the server's certificate (with Options.TLS), PEM encoded: a
// CA file that makes clients trust it.
func (s *Server) CertPEM() []byte {
	if s.hs.TLS == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.hs.Certificate().Raw})
}

// serve counts a request and answers it with the fault the test asked
// for, if any, else serves it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	endpoint, ok := strings.CutPrefix(r.URL.Path, Base)
	if !ok {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "not a SCIM endpoint: " + r.URL.Path})
		return
	}
	s.count(r.Method, endpoint)
	f := s.faultFor(r.Method, endpoint, r)
	r.URL.Path = "/v2" + endpoint // the library strips /v2 itself
	if !s.fault(w, r, f) {
		s.handle(w, r)
	}
}

// handle serves a request as a healthy service does.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	want := "Bearer " + s.Token
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimtest"`)
		writeError(w, scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: "the bearer token is not valid"})
		return
	}
	if s.opts.NoPatch && r.Method == http.MethodPatch {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotImplemented, Detail: "PATCH is not supported"})
		return
	}
	if s.opts.NoLocation {
		w = noLocation{w}
	}
	s.scim.ServeHTTP(w, r)
}

// noLocation drops the Location header from an answer.
type noLocation struct{ http.ResponseWriter }

func (w noLocation) WriteHeader(code int) {
	w.Header().Del("Location")
	w.ResponseWriter.WriteHeader(code)
}

// writeError answers with a SCIM error body.
func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	body, _ := e.MarshalJSON()
	_, _ = w.Write(body)
}

// endpointOf is the first segment of an endpoint: "/Users/42" → "/Users".
func endpointOf(path string) string {
	if i := strings.IndexByte(strings.TrimPrefix(path, "/"), '/'); i >= 0 {
		return path[:i+1]
	}
	return path
}

func (s *Server) count(method, endpoint string) {
	s.mu.Lock()
	s.counts[method+" "+endpointOf(endpoint)]++
	s.mu.Unlock()
}

// Requests counts the requests received with method ("" for any) on
// endpoint ("/Users" counts /Users and /Users/ID; "" for any), faulted
// and refused ones included.
func (s *Server) Requests(method, endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.counts {
		m, e, _ := strings.Cut(k, " ")
		if (method == "" || m == method) && (endpoint == "" || e == endpoint) {
			n += c
		}
	}
	return n
}

func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}

// newID returns a fresh resource id in UUID form.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// Users returns every user, in the order they were created.
func (s *Server) Users() []User { return collect(s, s.users.all, userOf) }

// Groups returns every group, in the order they were created.
func (s *Server) Groups() []Group { return collect(s, s.groups.all, groupOf) }

// User returns the user with SCIM id id.
func (s *Server) User(id string) (User, bool) {
	return firstOf(collect(s, func() []*record { return s.users.get(id) }, userOf))
}

// Group returns the group with SCIM id id.
func (s *Server) Group(id string) (Group, bool) {
	return firstOf(collect(s, func() []*record { return s.groups.get(id) }, groupOf))
}

// UserByExternalID returns the first user created with externalId ext.
func (s *Server) UserByExternalID(ext string) (User, bool) {
	return firstOf(collect(s, func() []*record { return s.users.withExternalID(ext) }, userOf))
}

// GroupByExternalID returns the first group created with externalId ext.
func (s *Server) GroupByExternalID(ext string) (Group, bool) {
	return firstOf(collect(s, func() []*record { return s.groups.withExternalID(ext) }, groupOf))
}

// collect reads the records recs returns, under the lock.
func collect[T any](s *Server, recs func() []*record, read func(*record) T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	for _, rec := range recs() {
		out = append(out, read(rec))
	}
	return out
}

func firstOf[T any](all []T) (T, bool) {
	if len(all) == 0 {
		var zero T
		return zero, false
	}
	return all[0], true
}

// Remove deletes the user or group with SCIM id id behind syncguard's
// back, as an admin of the service would. It says whether there was one.
func (s *Server) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users.remove(id) || s.groups.remove(id)
}

// attributes are u as the SCIM library stores a validated user.
func (u User) attributes() map[string]any {
	a := map[string]any{"userName": u.UserName, "active": u.Active}
	setString(a, "externalId", u.ExternalID)
	setString(a, "displayName", u.DisplayName)
	name := map[string]any{}
	setString(name, "givenName", u.GivenName)
	setString(name, "familyName", u.FamilyName)
	setString(name, "formatted", u.FormattedName)
	if len(name) > 0 {
		a["name"] = name
	}
	var emails []any
	for _, e := range u.Emails {
		m := map[string]any{"value": e.Value, "primary": e.Primary}
		setString(m, "type", e.Type)
		emails = append(emails, m)
	}
	if emails != nil {
		a["emails"] = emails
	}
	return a
}

// attributes are g as the SCIM library stores a validated group.
func (g Group) attributes() map[string]any {
	a := map[string]any{"displayName": g.DisplayName}
	setString(a, "externalId", g.ExternalID)
	var members []any
	for _, m := range g.Members {
		members = append(members, map[string]any{"value": m})
	}
	if members != nil {
		a["members"] = members
	}
	return a
}

func setString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// userOf reads a stored user.
func userOf(rec *record) User {
	a := rec.attrs
	u := User{
		ID: rec.id, ExternalID: str(a["externalId"]), UserName: str(a["userName"]),
		DisplayName: str(a["displayName"]), Active: a["active"] == true,
	}
	if n, ok := a["name"].(map[string]any); ok {
		u.GivenName, u.FamilyName, u.FormattedName = str(n["givenName"]), str(n["familyName"]), str(n["formatted"])
	}
	for _, e := range list(a["emails"]) {
		if m, ok := e.(map[string]any); ok {
			u.Emails = append(u.Emails, Email{Value: str(m["value"]), Type: str(m["type"]), Primary: m["primary"] == true})
		}
	}
	return u
}

// groupOf reads a stored group.
func groupOf(rec *record) Group {
	g := Group{ID: rec.id, ExternalID: str(rec.attrs["externalId"]), DisplayName: str(rec.attrs["displayName"])}
	for _, m := range list(rec.attrs["members"]) {
		if m, ok := m.(map[string]any); ok {
			g.Members = append(g.Members, str(m["value"]))
		}
	}
	return g
}

// list is a multi-valued attribute's values.
func list(v any) []any {
	l, _ := v.([]any)
	return slices.Clip(l)
}
