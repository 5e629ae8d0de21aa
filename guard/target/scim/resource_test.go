package scim_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/guard/target/scim"
)

func TestUserResource(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string][]string
		obj   string // Object.Name
		want  string // the JSON body, or the error
	}{
		{"Active Directory", map[string][]string{
			"userPrincipalName": {"ann.lee@corp.example"}, "sAMAccountName": {"alee"}, "mail": {"ann@example.org"},
			"givenName": {"Ann"}, "sn": {"Lee"}, "cn": {"Ann Lee"}, "displayName": {"Lee, Ann"},
			"objectGUID": {"base64:AAECAwQ="},
		}, "Ann Lee", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"guid:1","userName":"ann.lee@corp.example",` +
			`"name":{"givenName":"Ann","familyName":"Lee","formatted":"Ann Lee"},"displayName":"Lee, Ann",` +
			`"emails":[{"value":"ann@example.org","type":"work","primary":true}],"active":true}`},
		{"OpenLDAP", map[string][]string{
			"uid": {"ann"}, "mail": {"ann@example.org", "a.lee@example.org"}, "givenName": {"Ann"}, "sn": {"Lee"},
		}, "ann", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"guid:1","userName":"ann@example.org",` +
			`"name":{"givenName":"Ann","familyName":"Lee","formatted":"Ann Lee"},"displayName":"ann",` +
			`"emails":[{"value":"ann@example.org","type":"work","primary":true},{"value":"a.lee@example.org","type":"work"}],"active":true}`},
		{"uid, names in any case", map[string][]string{"UID": {" ann "}, "CN": {"Ann"}}, "",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"guid:1","userName":"ann",` +
				`"name":{"formatted":"Ann"},"displayName":"Ann","active":true}`},
		{"sAMAccountName before cn", map[string][]string{"sAMAccountName": {"alee"}, "cn": {"Ann Lee"}}, "",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"guid:1","userName":"alee",` +
				`"name":{"formatted":"Ann Lee"},"displayName":"Ann Lee","active":true}`},
		{"only a name", map[string][]string{"mail": {"base64://79"}}, "Ann",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"guid:1","userName":"Ann","displayName":"Ann","active":true}`},
		{"nothing", map[string][]string{"sn": {"Lee"}}, "",
			`SCIM: user guid:1 has no userName (none of userPrincipalName, mail, uid, sAMAccountName, cn, and no name)`},
	}
	for _, tt := range tests {
		obj := &target.Object{Anchor: "guid:1", Type: target.TypeUser, Name: tt.obj, Enabled: true, Attributes: tt.attrs}
		r, err := scim.UserResource(obj)
		got := ""
		if err != nil {
			var te *target.Error
			if !errors.As(err, &te) || te.Transient {
				t.Errorf("%s: error %v is not a permanent *target.Error", tt.name, err)
			}
			got = err.Error()
		} else {
			body, _ := json.Marshal(r)
			got = string(body)
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestGroupResource(t *testing.T) {
	g := &target.Object{Anchor: "uuid:g", Type: target.TypeGroup, Name: "staff", Attributes: map[string][]string{"cn": {"staff"}},
		Members: []target.Member{{Anchor: "a", Link: "id-a"}, {Anchor: "b"}, {Anchor: "a2", Link: "id-a"}, {Anchor: "c", Link: "id-c"}}}
	r, err := scim.GroupResource(g)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(r)
	want := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"uuid:g","displayName":"staff","members":[{"value":"id-a"},{"value":"id-c"}]}`
	if string(body) != want {
		t.Errorf("group:\n got %s\nwant %s", body, want)
	}
	if _, err := scim.GroupResource(&target.Object{Anchor: "uuid:x", Type: target.TypeGroup}); err == nil {
		t.Error("a group with no name: no error")
	}
}
