package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeAttributes: whatever the JSON, decodeAttributes reads what
// encoding/json reads (the compact fast path and its fallback alike), and
// refuses what it refuses.
func FuzzDecodeAttributes(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"cn":["Ann Lee"]}`, `{"cn":["Ann Lee"],"mail":["a@x","b@y"],"members":["uuid:1","dn:cn=a\\,b,dc=x"]}`,
		`{"a":[]}`, `{"a":["]"],"b":[",:{}"]}`, `{"q":["say \"hi\""]}`, `{ "a" : [ "x" ] }`, `{"a":["x"],}`, `{"a":["x"]`,
		`{"a":["é","日本"]}`, `{"a":"x"}`, `null`, `{"a":["x"]}{"b":["y"]}`, `{"a":["x"],"a":["y"]}`, `{"a":["\u003c"]}`,
		"{\"\x1f\":[]}", `{"":[""""]}`, "{\"\":[\"日\x00\"]}", `{"a":["x",]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := decodeAttributes(s)
		var want map[string][]string
		wantErr := json.Unmarshal([]byte(s), &want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("decodeAttributes(%q) error %v, encoding/json %v", s, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		for k, v := range want { // encoding/json reads [] as empty, the fast path as nil
			if len(v) == 0 && len(got[k]) == 0 {
				got[k], want[k] = nil, nil
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeAttributes(%q) = %q, encoding/json %q", s, got, want)
		}
	})
}
