package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// Any text in the log search, control characters and the search syntaxes
// of SQLite included, is either searched for literally or refused with a
// message by the field: never a 500.
func TestLogSearchAnyText(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	if _, err := e.Store.IndexLogText(context.Background(), 100000); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn(store.RoleAdmin)
	all := e.logs(store.LogQuery{})
	for _, q := range []string{"\x00abc", "abc\x00", "Sales\x00", "a\x01b", "\x7fSal", "\u0085Sales", "\xff\xfeSales",
		`"`, `"Sales`, `Sal"es`, `'Sales`, `*`, `Sal*`, `NEAR(Sales Users)`, `Sales OR Users`, `Sales AND`, `NOT Sales`,
		`%`, `_`, `\`, `ou=Sales`, `^Sales`, `-Sales`, `dn:Sales`, `Sales:`, `(Sales)`, `{name}: x`, `Sales" OR "x`} {
		t.Run(fmt.Sprintf("%q", q), func(t *testing.T) {
			admin.t = t
			res := admin.get(e.path("/logs?q=" + url.QueryEscape(q)))
			switch res.Status {
			case http.StatusOK:
				got := len(res.Doc.Find("table tbody tr").Nodes)
				var want int
				for _, l := range all {
					if strings.Contains(strings.ToLower(l.Name), strings.ToLower(strings.TrimSpace(q))) ||
						strings.Contains(strings.ToLower(l.DN), strings.ToLower(strings.TrimSpace(q))) {
						want++
					}
				}
				if got != min(want, 50) {
					t.Errorf("%d rows, want %d (the entries holding the text)", got, min(want, 50))
				}
			case http.StatusUnprocessableEntity:
				search := res.byLabel("Search name or DN")
				if msgs := res.describedBy(search); len(msgs) == 0 || squash(msgs[len(msgs)-1].Text()) == "" {
					t.Errorf("422 without a message by the search field")
				}
			default:
				t.Errorf("status %d, want 200 or 422", res.Status)
			}
		})
	}
}
