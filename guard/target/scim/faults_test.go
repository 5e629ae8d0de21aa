package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/guard/target/scim"
	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

// TestFaultsOnCreate: each way a service fails a create is transient or
// permanent as the exporter needs it, in the service's words, and the
// retry the exporter then makes (LookFirst) leaves exactly one user.
func TestFaultsOnCreate(t *testing.T) {
	tests := []struct {
		name       string
		fault      scimtest.Fault
		transient  bool
		retryAfter time.Duration
		message    string // the start of the message; "HOST" stands for the service's host
	}{
		{"429 with Retry-After", scimtest.Fault{Status: 429, RetryAfter: "7"}, true, 7 * time.Second, "SCIM 429: scimtest: too many requests"},
		{"503 with Retry-After", scimtest.Fault{Status: 503, RetryAfter: "120", Detail: "maintenance"}, true, 2 * time.Minute, "SCIM 503: maintenance"},
		{"500", scimtest.Fault{Status: 500, Detail: "database down"}, true, 0, "SCIM 500: database down"},
		{"502 without detail", scimtest.Fault{Status: 502}, true, 0, "SCIM 502: scimtest: bad gateway"},
		{"connection cut before the answer", scimtest.Fault{Cut: true}, true, 0, "SCIM: HOST closed the connection before answering in full"},
		{"connection cut after serving", scimtest.Fault{CutServed: true}, true, 0, "SCIM: HOST closed the connection before answering in full"},
		{"answer cut halfway, no Location", scimtest.Fault{Truncate: true}, true, 0, "SCIM: HOST closed the connection before answering in full"},
		{"connection reset", scimtest.Fault{Reset: true}, true, 0, "SCIM: connection reset by HOST"},
		{"400", scimtest.Fault{Status: 400, Detail: "emails[0] is not an address"}, false, 0, "SCIM 400: emails[0] is not an address"},
		{"403", scimtest.Fault{Status: 403}, false, 0, "SCIM 403: scimtest: forbidden"},
		{"412", scimtest.Fault{Status: 412, Detail: "version mismatch"}, false, 0, "SCIM 412: version mismatch"},
		{"501", scimtest.Fault{Status: 501}, false, 0, "SCIM 501: scimtest: not implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Without a Location header the id is read from the answer's
			// body, so an answer cut halfway fails the create.
			srv := scimtest.Start(t, scimtest.Options{NoLocation: true})
			w := newWriter(t, srv)
			host := strings.Split(srv.URL, "/")[2]
			srv.FailNext(1, "POST", "/Users", tt.fault)
			link, err := w.Put(context.Background(), person("uuid:ann", "ann"), "", target.CreateFirst)
			te := targetError(t, err)
			want := strings.ReplaceAll(tt.message, "HOST", host)
			if te.Transient != tt.transient || te.RetryAfter != tt.retryAfter || !strings.HasPrefix(te.Message, want) || link != "" {
				t.Errorf("Put = %q, {Transient: %v, RetryAfter: %v, Message: %q}\nwant        {Transient: %v, RetryAfter: %v, Message: %q…}",
					link, te.Transient, te.RetryAfter, te.Message, tt.transient, tt.retryAfter, want)
			}
			served := len(srv.Users())
			if served != map[bool]int{true: 1, false: 0}[tt.fault.CutServed || tt.fault.Truncate] {
				t.Errorf("users after the fault = %d", served)
			}
			link = put(t, w, person("uuid:ann", "ann"), "", target.LookFirst)
			if users := srv.Users(); len(users) != 1 || target.Link(users[0].ID) != link {
				t.Errorf("after the retry: users %+v, link %q; want exactly one, linked", users, link)
			}
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	srv.FailNext(1, "", "", scimtest.Fault{Status: 503, RetryAfter: time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)})
	_, err := w.Put(context.Background(), person("uuid:ann", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.RetryAfter < 80*time.Second || te.RetryAfter > 91*time.Second {
		t.Errorf("503 with an HTTP date 90s ahead: %+v, want transient, RetryAfter about 90s", te)
	}
}

// TestFaultsOnEveryCall: lookups, updates, deletes and holds fail as
// creates do, and Put keeps the link it was given.
func TestFaultsOnEveryCall(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	ctx := context.Background()
	ann := person("uuid:ann", "ann")
	link := put(t, w, ann, "", target.CreateFirst)
	calls := []struct {
		name, method, endpoint string
		call                   func() error
	}{
		{"lookup", "GET", "/Users", func() error { _, err := w.Put(ctx, person("uuid:bob", "bob"), "", target.LookFirst); return err }},
		{"update", "PATCH", "/Users", func() error {
			got, err := w.Put(ctx, ann, link, target.CreateFirst)
			if got != link {
				t.Errorf("Put on a failed update = %q, want the link it was given %q", got, link)
			}
			return err
		}},
		{"disable", "PATCH", "/Users", func() error { _, err := w.Disable(ctx, ann, link); return err }},
		{"delete", "DELETE", "/Users", func() error { return w.Delete(ctx, ann, link) }},
		{"test", "GET", "/ServiceProviderConfig", func() error { _, err := w.Test(ctx); return err }},
	}
	for _, c := range calls {
		srv.FailNext(1, c.method, c.endpoint, scimtest.Fault{Status: 429, RetryAfter: "5"})
		if te := targetError(t, c.call()); !te.Transient || te.RetryAfter != 5*time.Second || !strings.HasPrefix(te.Message, "SCIM 429") {
			t.Errorf("%s: %+v, want transient SCIM 429 after 5s", c.name, te)
		}
		srv.FailNext(1, c.method, c.endpoint, scimtest.Fault{Status: 400, Detail: "no"})
		if te := targetError(t, c.call()); te.Transient || te.Message != "SCIM 400: no" {
			t.Errorf("%s: %+v, want permanent SCIM 400: no", c.name, te)
		}
	}
	if u, _ := srv.User(string(link)); !u.Active {
		t.Error("a failed Disable changed the user")
	}
}

func TestConflictOnUpdate(t *testing.T) {
	for _, noPatch := range []bool{false, true} {
		srv := scimtest.Start(t, scimtest.Options{NoPatch: noPatch})
		w := newWriter(t, srv)
		put(t, w, person("uuid:ann", "ann"), "", target.CreateFirst)
		bob := person("uuid:bob", "bob")
		link := put(t, w, bob, "", target.CreateFirst)
		bob.Attributes["mail"] = []string{"ann@example.org"} // bob's userName becomes ann's
		_, err := w.Put(context.Background(), bob, link, target.CreateFirst)
		te := targetError(t, err)
		if want := `SCIM 409 uniqueness: userName "ann@example.org" is already taken`; te.Transient || te.Message != want {
			t.Errorf("NoPatch=%v: %+v, want permanent %q", noPatch, te, want)
		}
		if u, _ := srv.User(string(link)); u.UserName != "bob@example.org" {
			t.Errorf("NoPatch=%v: bob = %+v, want unchanged", noPatch, u)
		}
	}
}

func TestSlowService(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	host := strings.Split(srv.URL, "/")[2]
	want := "SCIM: timed out waiting for " + host

	// The caller's deadline.
	w := newWriter(t, srv)
	srv.FailNext(1, "POST", "/Users", scimtest.Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := w.Put(ctx, person("uuid:ann", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.Message != want {
		t.Errorf("slow service, caller's deadline: %+v, want transient %q", te, want)
	}

	// Config.Timeout, when the caller has no deadline.
	w = newWriter(t, srv, func(c *scim.Config) { c.Timeout = 50 * time.Millisecond })
	srv.FailNext(1, "PATCH", "/Users", scimtest.Fault{Delay: 10 * time.Second}) // a writer without a timeout fails after 10s
	link := put(t, w, person("uuid:bob", "bob"), "", target.CreateFirst)
	_, err = w.Put(context.Background(), person("uuid:bob", "bob"), link, target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.Message != want {
		t.Errorf("slow service, Config.Timeout: %+v, want transient %q", te, want)
	}
}

func TestRefused(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	srv.Close()
	_, err := w.Put(context.Background(), person("uuid:ann", "ann"), "", target.CreateFirst)
	if te := targetError(t, err); !te.Transient || te.Message != "SCIM: connection refused by "+strings.Split(srv.URL, "/")[2] {
		t.Errorf("closed service: %+v, want transient connection refused", te)
	}
	_, err = w.Test(context.Background())
	if te := targetError(t, err); !strings.HasPrefix(te.Message, "SCIM: connection refused by ") {
		t.Errorf("Test of a closed service: %q", te.Message)
	}
}

// TestCreateTakesTheIDFromLocation: the id of a created resource is read
// from the Location header when there is one (an answer whose body is cut
// then still tells it), else from the body.
func TestCreateTakesTheIDFromLocation(t *testing.T) {
	for _, noLocation := range []bool{false, true} {
		srv := scimtest.Start(t, scimtest.Options{NoLocation: noLocation})
		w := newWriter(t, srv)
		ann := put(t, w, person("uuid:ann", "ann"), "", target.CreateFirst)
		if u, ok := srv.UserByExternalID("uuid:ann"); !ok || target.Link(u.ID) != ann {
			t.Errorf("NoLocation=%v: link %q, user %+v", noLocation, ann, u)
		}
	}
	srv := scimtest.Start(t, scimtest.Options{})
	w := newWriter(t, srv)
	srv.FailNext(1, "POST", "/Users", scimtest.Fault{Truncate: true})
	link, err := w.Put(context.Background(), person("uuid:ann", "ann"), "", target.CreateFirst)
	if u, ok := srv.UserByExternalID("uuid:ann"); err != nil || !ok || target.Link(u.ID) != link {
		t.Errorf("answer cut after its headers: %q, %v; user %+v; want the created user's id", link, err, u)
	}
}
