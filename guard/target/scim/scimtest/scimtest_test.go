package scimtest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/guard/target/scim/scimtest"
)

// call sends one raw request and returns the status and decoded body.
func call(t *testing.T, srv *scimtest.Server, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.HTTPURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out
}

const annJSON = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"uuid:ann",
	"userName":"ann@example.org","name":{"givenName":"Ann"},"active":true,
	"emails":[{"value":"ann@example.org","type":"work","primary":true}]}`

func TestUsersCRUD(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	code, created := call(t, srv, srv.Token, "POST", "/Users", annJSON)
	if code != http.StatusCreated {
		t.Fatalf("POST = %d %v, want 201", code, created)
	}
	id, _ := created["id"].(string)
	u, ok := srv.UserByExternalID("uuid:ann")
	if !ok || u.ID != id || u.UserName != "ann@example.org" || u.GivenName != "Ann" || !u.Active ||
		len(u.Emails) != 1 || u.Emails[0] != (scimtest.Email{Value: "ann@example.org", Type: "work", Primary: true}) {
		t.Fatalf("stored user = %+v (found %v), want ann with id %s", u, ok, id)
	}

	// userName is unique ignoring case.
	dup := strings.Replace(annJSON, "ann@example.org\",\"name", "ANN@example.org\",\"name", 1)
	if code, body := call(t, srv, srv.Token, "POST", "/Users", dup); code != http.StatusConflict || body["scimType"] != "uniqueness" {
		t.Errorf("duplicate POST = %d %v, want 409 uniqueness", code, body)
	}

	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","value":{"active":false,"name":{"givenName":"Anna","familyName":"Lee"}}},
		{"op":"remove","path":"emails"}]}`
	if code, body := call(t, srv, srv.Token, "PATCH", "/Users/"+id, patch); code != http.StatusOK {
		t.Fatalf("PATCH = %d %v", code, body)
	}
	u, _ = srv.User(id)
	if u.Active || u.GivenName != "Anna" || u.FamilyName != "Lee" || len(u.Emails) != 0 {
		t.Errorf("after PATCH user = %+v, want inactive Anna Lee without emails", u)
	}

	put := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann2","active":true}`
	if code, body := call(t, srv, srv.Token, "PUT", "/Users/"+id, put); code != http.StatusOK {
		t.Fatalf("PUT = %d %v", code, body)
	}
	u, _ = srv.User(id)
	if u.UserName != "ann2" || u.ExternalID != "" || u.GivenName != "" || !u.Active {
		t.Errorf("after PUT user = %+v, want only userName ann2, active", u)
	}

	if code, _ := call(t, srv, srv.Token, "DELETE", "/Users/"+id, ""); code != http.StatusNoContent {
		t.Errorf("DELETE = %d, want 204", code)
	}
	if code, _ := call(t, srv, srv.Token, "DELETE", "/Users/"+id, ""); code != http.StatusNotFound {
		t.Errorf("second DELETE = %d, want 404", code)
	}
	if got := len(srv.Users()); got != 0 {
		t.Errorf("users after DELETE = %d, want 0", got)
	}
}

func TestFilterAndPages(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{PageSize: 2, Users: []scimtest.User{
		{ExternalID: "e1", UserName: "a\"quoted\\one", Active: true},
		{ExternalID: "e2", UserName: "bob", DisplayName: "Bob B"},
		{ExternalID: "e3", UserName: "cid", DisplayName: "Bob B"},
	}})
	tests := []struct {
		filter string
		want   []string // userNames, in order
	}{
		{`externalId eq "e2"`, []string{"bob"}},
		{`userName eq "BOB"`, []string{"bob"}},
		{`userName eq "a\"quoted\\one"`, []string{"a\"quoted\\one"}},
		{`displayName eq "bob b"`, []string{"bob", "cid"}},
		{`externalId eq "none"`, nil},
		{`userName sw "c"`, []string{"cid"}},
	}
	for _, tt := range tests {
		code, body := call(t, srv, srv.Token, "GET", "/Users?filter="+url.QueryEscape(tt.filter), "")
		if code != http.StatusOK {
			t.Errorf("filter %s: %d %v", tt.filter, code, body)
			continue
		}
		var got []string
		for _, r := range body["Resources"].([]any) {
			got = append(got, r.(map[string]any)["userName"].(string))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("filter %s = %q, want %q", tt.filter, got, tt.want)
		}
	}
	_, page := call(t, srv, srv.Token, "GET", "/Users?startIndex=3&count=2", "")
	if page["totalResults"] != 3.0 || len(page["Resources"].([]any)) != 1 {
		t.Errorf("page 2 = %v, want 1 of 3", page)
	}
	_, page = call(t, srv, srv.Token, "GET", "/Users", "")
	if len(page["Resources"].([]any)) != 2 {
		t.Errorf("default page lists %d, want the page size 2", len(page["Resources"].([]any)))
	}
}

func TestGroupsMembers(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{Groups: []scimtest.Group{{ID: "g1", DisplayName: "Staff", Members: []string{"u1", "u2"}}}})
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"remove","path":"members[value eq \"u1\"]"},
		{"op":"add","path":"members","value":[{"value":"u2"},{"value":"u3"}]}]}`
	if code, body := call(t, srv, srv.Token, "PATCH", "/Groups/g1", patch); code != http.StatusOK {
		t.Fatalf("PATCH = %d %v", code, body)
	}
	g, _ := srv.Group("g1")
	if strings.Join(g.Members, ",") != "u2,u3" {
		t.Errorf("members = %v, want u2,u3", g.Members)
	}
	remove := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`
	call(t, srv, srv.Token, "PATCH", "/Groups/g1", remove)
	if g, ok := srv.Group("g1"); !ok || len(g.Members) != 0 {
		t.Errorf("after removing members: %+v (kept %v), want the group kept, empty", g, ok)
	}
}

func TestTokenAndNoPatch(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{NoPatch: true, Token: "right"})
	if code, body := call(t, srv, "wrong", "GET", "/Users", ""); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %v, want 401", code, body)
	}
	_, spc := call(t, srv, "right", "GET", "/ServiceProviderConfig", "")
	if spc["patch"].(map[string]any)["supported"] != false {
		t.Errorf("ServiceProviderConfig patch = %v, want unsupported", spc["patch"])
	}
	code, _ := call(t, srv, "right", "PATCH", "/Users/x", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails"}]}`)
	if code != http.StatusNotImplemented {
		t.Errorf("PATCH = %d, want 501", code)
	}
	if got := srv.Requests("PATCH", "/Users"); got != 1 {
		t.Errorf("PATCH /Users requests = %d, want 1", got)
	}
	if got := srv.Requests("", ""); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
}

func TestFaults(t *testing.T) {
	srv := scimtest.Start(t, scimtest.Options{})
	srv.FailNext(1, "POST", "/Users", scimtest.Fault{Status: 429, RetryAfter: "3"})
	req, _ := http.NewRequest("GET", srv.HTTPURL+"/Users", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with a fault queued for POST: %v %v", resp, err)
	}
	code, _ := call(t, srv, srv.Token, "POST", "/Users", annJSON)
	if code != http.StatusTooManyRequests {
		t.Errorf("faulted POST = %d, want 429", code)
	}
	if len(srv.Users()) != 0 {
		t.Error("a faulted request was served")
	}

	// CutServed: the user is created, the client gets no answer.
	srv.FailNext(1, "", "", scimtest.Fault{CutServed: true})
	req, _ = http.NewRequest("POST", srv.HTTPURL+"/Users", strings.NewReader(annJSON))
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	if _, err := http.DefaultClient.Do(req); err == nil || !errors.Is(err, io.EOF) {
		t.Errorf("POST cut after serving: err = %v, want EOF", err)
	}
	if _, ok := srv.UserByExternalID("uuid:ann"); !ok {
		t.Error("POST cut after serving: the user was not created")
	}
}
