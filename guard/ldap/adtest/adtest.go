// Package adtest runs, inside a test, a small LDAP server that answers as
// Active Directory does where OpenLDAP cannot show it: values of a
// multi-valued attribute in ranges (member;range=0-1499, then the client
// asks for member;range=1500-*), paged results with AD's page size limit,
// simple binds refused with AD's diagnostic codes (data 52e, 533, 775…),
// searches refused before a bind, and entries of any attributes, binary
// ones included (objectGUID, objectSid, primaryGroupID,
// userAccountControl). It is built on github.com/jimlambrt/gldap and
// listens on a free loopback port; no TLS.
package adtest

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// Defaults of Active Directory.
const (
	DefaultMaxValRange = 1500 // values of one attribute per entry and request
	DefaultMaxPageSize = 1000 // entries per page, and per search without paging
)

// Entry is an entry the server holds: its DN and its attributes in order
// (binary values as raw bytes in a string).
type Entry struct {
	DN    string
	Attrs []Attr
}

// Attr is one attribute of an Entry.
type Attr struct {
	Name   string
	Values []string
}

// Get returns the values of the attribute called name (any case), or nil.
func (e *Entry) Get(name string) []string {
	for _, a := range e.Attrs {
		if strings.EqualFold(a.Name, name) {
			return a.Values
		}
	}
	return nil
}

// Account is a name a simple bind may use: a DN, DOMAIN\user or
// user@domain, as AD takes all three.
type Account struct {
	Name, Password string
	// Refuse, when set, is the AD error code the bind fails with even with
	// the right password: "533" (disabled), "775" (locked), "532"
	// (password expired), "701" (account expired), "773" (must change
	// password), "530", "531"…
	Refuse string
}

// Options describe the directory to serve.
type Options struct {
	Suffix      string // default "DC=corp,DC=example"; its entry is added when Entries lack it
	MaxValRange int    // 0 → DefaultMaxValRange
	MaxPageSize int    // 0 → DefaultMaxPageSize
	Entries     []Entry
	Accounts    []Account
}

// Request is one search the server answered, for tests to check what a
// client asked.
type Request struct {
	Conn  int // the connection it came on
	Base  string
	Scope int // 0 base, 1 one level, 2 subtree
	Attrs []string
	Paged bool
}

// Server is a running AD-like server.
type Server struct {
	URL    string // ldap://127.0.0.1:PORT
	Suffix string

	maxValRange, maxPageSize int

	mu       sync.Mutex
	entries  []Entry // in the order searches return them
	accounts []Account
	bound    map[int]bool // connections with a successful bind
	requests []Request
	fault    func(Request) (code int, diagnostic string)

	srv *gldap.Server
}

// Start starts a server on a free loopback port and stops it at cleanup.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Suffix == "" {
		opts.Suffix = "DC=corp,DC=example"
	}
	s := &Server{Suffix: opts.Suffix, maxValRange: opts.MaxValRange, maxPageSize: opts.MaxPageSize,
		accounts: opts.Accounts, bound: map[int]bool{}}
	if s.maxValRange <= 0 {
		s.maxValRange = DefaultMaxValRange
	}
	if s.maxPageSize <= 0 {
		s.maxPageSize = DefaultMaxPageSize
	}
	if !slices.ContainsFunc(opts.Entries, func(e Entry) bool { return strings.EqualFold(e.DN, opts.Suffix) }) {
		s.entries = append(s.entries, Entry{DN: opts.Suffix, Attrs: []Attr{{"objectClass", []string{"top", "domain", "domainDNS"}}}})
	}
	for _, e := range opts.Entries {
		s.entries = append(s.entries, clone(e))
	}

	var lastErr error
	for range 5 {
		if lastErr = s.listen(); lastErr == nil {
			tb.Cleanup(func() { s.srv.Stop() })
			return s
		}
	}
	tb.Fatalf("adtest: %v", lastErr)
	return nil
}

// listen runs the server on a free port and waits until it accepts.
func (s *Server) listen() error {
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(func(conn int) {
		s.mu.Lock()
		delete(s.bound, conn)
		s.mu.Unlock()
	}))
	if err != nil {
		return err
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return err
	}
	if err := mux.Bind(s.bind); err != nil {
		return err
	}
	if err := mux.Search(s.search); err != nil {
		return err
	}
	if err := mux.DefaultRoute(func(w *gldap.ResponseWriter, r *gldap.Request) {
		w.Write(r.NewResponse(gldap.WithResponseCode(gldap.ResultUnwillingToPerform), gldap.WithDiagnosticMessage("adtest: not supported")))
	}); err != nil {
		return err
	}
	if err := srv.Router(mux); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(addr) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-ran:
			return fmt.Errorf("listen on %s: %v", addr, err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			s.srv, s.URL = srv, "ldap://"+addr
			return nil
		}
		if time.Now().After(deadline) {
			srv.Stop()
			return fmt.Errorf("no answer on %s within 10s", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Set adds entries, or replaces those with the same DN (any case).
func (s *Server) Set(entries ...Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		e = clone(e)
		if i := s.index(e.DN); i >= 0 {
			s.entries[i] = e
		} else {
			s.entries = append(s.entries, e)
		}
	}
}

// clone copies e, so that the caller may change what it gave.
func clone(e Entry) Entry {
	attrs := make([]Attr, len(e.Attrs))
	for i, a := range e.Attrs {
		attrs[i] = Attr{Name: a.Name, Values: slices.Clone(a.Values)}
	}
	return Entry{DN: e.DN, Attrs: attrs}
}

// Delete removes the entry dn, if it is there.
func (s *Server) Delete(dn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(dn); i >= 0 {
		s.entries = slices.Delete(s.entries, i, i+1)
	}
}

func (s *Server) index(dn string) int {
	return slices.IndexFunc(s.entries, func(e Entry) bool { return strings.EqualFold(e.DN, dn) })
}

// Requests returns the searches answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// SetFault makes the server answer any search for which f returns a code
// other than 0 with that result code and diagnostic text, and nothing
// else; nil removes it.
func (s *Server) SetFault(f func(Request) (code int, diagnostic string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// adError is AD's diagnostic text for a failed bind with Windows code data.
func adError(data string) string {
	return "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data " + data + ", v4563\x00"
}

func (s *Server) bind(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer func() { w.Write(resp) }()
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		resp.SetResultCode(gldap.ResultAuthMethodNotSupported)
		resp.SetDiagnosticMessage("adtest: only simple binds")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bound, r.ConnectionID())
	i := slices.IndexFunc(s.accounts, func(a Account) bool { return strings.EqualFold(a.Name, m.UserName) })
	switch {
	case i < 0:
		resp.SetDiagnosticMessage(adError("525"))
	case string(m.Password) != s.accounts[i].Password:
		resp.SetDiagnosticMessage(adError("52e"))
	case s.accounts[i].Refuse != "":
		resp.SetDiagnosticMessage(adError(s.accounts[i].Refuse))
	default:
		s.bound[r.ConnectionID()] = true
		resp.SetResultCode(gldap.ResultSuccess)
	}
}

func (s *Server) search(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetSearchMessage()
	if err != nil {
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	req := Request{Conn: r.ConnectionID(), Base: m.BaseDN, Scope: int(m.Scope), Attrs: m.Attributes}
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging, req.Paged = p, true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	defer func() { w.Write(done) }()

	if s.fault != nil {
		if code, diag := s.fault(req); code != 0 {
			done.SetResultCode(code)
			done.SetDiagnosticMessage(diag)
			return
		}
	}
	if !s.bound[r.ConnectionID()] && !(m.BaseDN == "" && m.Scope == gldap.BaseObject) {
		done.SetResultCode(gldap.ResultOperationsError)
		done.SetDiagnosticMessage("000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563\x00")
		return
	}
	matches, code, diag, matched := s.find(m)
	if code != gldap.ResultSuccess {
		done.SetResultCode(code)
		done.SetDiagnosticMessage(diag)
		done.SetMatchedDN(matched)
		return
	}
	s.answer(w, r, m, matches, paging, done)
}

// answer writes the page of matches the paging control asks for (all, up
// to the page size limit, without paging) and sets done's result and
// cookie.
func (s *Server) answer(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage, matches []Entry, paging *gldap.ControlPaging, done *gldap.SearchResponseDone) {
	from, size := 0, s.maxPageSize
	if paging != nil {
		if len(paging.Cookie) > 0 {
			n, err := strconv.Atoi(string(paging.Cookie))
			if err != nil || n < 0 || n > len(matches) {
				done.SetResultCode(gldap.ResultUnwillingToPerform)
				done.SetDiagnosticMessage("00002024: SvcErr: DSID-02040999, problem 5003 (WILL_NOT_PERFORM), data 0\x00")
				return
			}
			from = n
		}
		if p := int(paging.PagingSize); p > 0 && p < size {
			size = p
		}
	}
	to := min(from+size, len(matches))
	for _, e := range matches[from:to] {
		w.Write(s.entry(r, e, m.Attributes))
	}
	switch {
	case paging != nil:
		cookie := ""
		if to < len(matches) {
			cookie = strconv.Itoa(to)
		}
		done.SetControls(&gldap.ControlPaging{Cookie: []byte(cookie)})
	case to < len(matches):
		done.SetResultCode(gldap.ResultSizeLimitExceeded)
		done.SetDiagnosticMessage("adtest: size limit exceeded")
	}
}

// find returns the entries a search matches, in order, or the error AD
// would answer.
func (s *Server) find(m *gldap.SearchMessage) (matches []Entry, code int, diag, matched string) {
	base := strings.ToLower(m.BaseDN)
	if s.index(m.BaseDN) < 0 {
		matched = s.closest(m.BaseDN)
		return nil, gldap.ResultNoSuchObject, fmt.Sprintf("0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'%s'\n\x00", matched), matched
	}
	f, err := compile(m.Filter)
	if err != nil {
		return nil, gldap.ResultProtocolError, "adtest: " + err.Error(), ""
	}
	for _, e := range s.entries {
		dn := strings.ToLower(e.DN)
		var in bool
		switch m.Scope {
		case gldap.BaseObject:
			in = dn == base
		case gldap.SingleLevel:
			in = strings.HasSuffix(dn, ","+base) && !strings.Contains(strings.TrimSuffix(dn, ","+base), ",")
		default:
			in = dn == base || strings.HasSuffix(dn, ","+base)
		}
		if in && f.match(&e) {
			matches = append(matches, e)
		}
	}
	return matches, gldap.ResultSuccess, "", ""
}

// closest is the nearest existing entry above dn.
func (s *Server) closest(dn string) string {
	for {
		_, parent, ok := strings.Cut(dn, ",")
		if !ok {
			return ""
		}
		if i := s.index(parent); i >= 0 {
			return s.entries[i].DN
		}
		dn = parent
	}
}

// entry encodes e with the attributes asked for ("*" or none: all; a name
// with ;range=low-high or low-*: those values), at most maxValRange values
// of an attribute, the rest left for the client to ask for as AD does.
func (s *Server) entry(r *gldap.Request, e Entry, attrs []string) *gldap.SearchResponseEntry {
	out := r.NewSearchResponseEntry(e.DN)
	all := len(attrs) == 0 || slices.Contains(attrs, "*")
	for _, a := range e.Attrs {
		low, high, asked, ranged := 0, -1, all, false
		for _, want := range attrs {
			name, lo, hi, r := parseRange(want)
			if strings.EqualFold(name, a.Name) {
				asked = true
				if r {
					low, high, ranged = lo, hi, true
				}
			}
		}
		if !asked {
			continue
		}
		name, vals, ok := s.values(a, low, high, ranged)
		if ok {
			out.AddAttribute(name, vals)
		}
	}
	return out
}

// values is the part of a's values from low to high (-1: the end) that one
// answer holds, and the attribute name that says which part it is: the
// plain name when every value fits and no range was asked for.
func (s *Server) values(a Attr, low, high int, ranged bool) (string, []string, bool) {
	n := len(a.Values)
	if !ranged && n <= s.maxValRange {
		return a.Name, a.Values, true // all of them, no range needed
	}
	if low >= n {
		return "", nil, false // AD leaves the attribute out
	}
	end := n // one past the last value sent
	if high >= 0 && high+1 < end {
		end = high + 1
	}
	end = min(end, low+s.maxValRange)
	last := "*"
	if end < n {
		last = strconv.Itoa(end - 1)
	}
	return fmt.Sprintf("%s;range=%d-%s", a.Name, low, last), a.Values[low:end], true
}

// parseRange splits an attribute description with a range option.
func parseRange(desc string) (name string, low, high int, ok bool) {
	i := strings.Index(strings.ToLower(desc), ";range=")
	if i < 0 {
		return desc, 0, -1, false
	}
	lo, hi, found := strings.Cut(desc[i+len(";range="):], "-")
	low, err := strconv.Atoi(lo)
	if !found || err != nil {
		return desc, 0, -1, false
	}
	high = -1
	if hi != "*" {
		if high, err = strconv.Atoi(hi); err != nil {
			return desc, 0, -1, false
		}
	}
	return desc[:i], low, high, true
}
