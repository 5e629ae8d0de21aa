package web_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/syncguard/syncguard/store"
)

// A bad Basics value is shown again, as typed, with a message by its field
// (422); nothing is saved or audited. SPEC section 7, STYLE habit 7.
func TestEditBasicsBadValues(t *testing.T) {
	t.Parallel()
	e := newTestServer(t)
	admin := e.signIn(store.RoleAdmin)
	form := admin.get(e.path("/basics/edit"))
	form.wantStatus(http.StatusOK)

	tests := []struct {
		name       string
		email      string
		threshold  string
		badField   string // label of the field with the message
		wantInText string // part of the message
	}{
		{"threshold not a number", testEmail, "abc", "Accidental deletion threshold", "not a whole number"},
		{"threshold zero", testEmail, "0", "Accidental deletion threshold", "at least 1"},
		{"threshold negative", testEmail, "-5", "Accidental deletion threshold", "at least 1"},
		{"threshold absurd", testEmail, "1e9", "Accidental deletion threshold", "not a whole number"},
		{"threshold too large", testEmail, "99999999999", "Accidental deletion threshold", "too large"},
		{"threshold decimal", testEmail, "2.5", "Accidental deletion threshold", "not a whole number"},
		{"threshold empty", testEmail, "", "Accidental deletion threshold", "Enter the number"},
		{"email not an address", "not-an-address", "10", "Notification email", "not an email address"},
		{"two emails", "a@b, c@d", "10", "Notification email", "not an email address"},
		{"email with a name", "Ops <ops@corp.example>", "10", "Notification email", "not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			res := admin.submit(form, "Save", map[string]string{
				"Notification email":            tt.email,
				"Accidental deletion threshold": tt.threshold,
			})
			res.wantStatus(http.StatusUnprocessableEntity)
			e.assertUnchanged(before, "a bad value")

			// The form again, with what was typed.
			if got := res.byLabel("Notification email").AttrOr("value", ""); got != tt.email {
				t.Errorf("Notification email shows %q, want the typed %q", got, tt.email)
			}
			if got := res.byLabel("Accidental deletion threshold").AttrOr("value", ""); got != tt.threshold {
				t.Errorf("Accidental deletion threshold shows %q, want the typed %q", got, tt.threshold)
			}
			if _, checked := res.byLabel("Prevent accidental deletions").Attr("checked"); !checked {
				t.Error("Prevent accidental deletions lost its tick")
			}
			// A message by the bad field, tied to it for screen readers.
			ctl := res.byLabel(tt.badField)
			if got := ctl.AttrOr("aria-invalid", ""); got != "true" {
				t.Errorf("%s: aria-invalid = %q, want true", tt.badField, got)
			}
			var msg string
			for _, d := range res.describedBy(ctl) {
				if d.HasClass("field-error") {
					msg = squash(d.Text())
					if !d.Parent().IsSelection(ctl.Parent()) {
						t.Errorf("the message %q is not next to its field", msg)
					}
				}
			}
			if !strings.Contains(msg, tt.wantInText) {
				t.Errorf("message by %s = %q, want it to contain %q", tt.badField, msg, tt.wantInText)
			}
			// Only the bad field is marked.
			for _, other := range []string{"Notification email", "Accidental deletion threshold"} {
				if other != tt.badField && res.byLabel(other).AttrOr("aria-invalid", "") == "true" {
					t.Errorf("%s is marked invalid too", other)
				}
			}
			if !res.hasControl("Save") {
				t.Error("no Save button: the form is not shown again")
			}
		})
	}

	t.Run("good values", func(t *testing.T) {
		res := admin.submit(form, "Save", map[string]string{
			"Notification email":            " ops@corp.example ",
			"Accidental deletion threshold": "1,000",
		})
		res.wantRedirect(e.path(""))
		page := admin.follow(res)
		if got := page.prop("section[aria-labelledby=basics-heading]", "Accidental deletion threshold"); got != "1,000" {
			t.Errorf("threshold shown = %q, want 1,000", got)
		}
		if got := page.prop("section[aria-labelledby=basics-heading]", "Notification email"); got != "ops@corp.example" {
			t.Errorf("email shown = %q", got)
		}
		if got := e.config().Basics; got != (store.Basics{Email: "ops@corp.example", Prevent: true, Threshold: 1000}) {
			t.Errorf("stored Basics = %+v", got)
		}
		if ev := e.audit()[0]; ev.Action != "Edited Basics" || !strings.Contains(ev.Details, "threshold: "+strconv.Itoa(testThreshold)+" → 1000") {
			t.Errorf("audit = %+v", ev)
		}
	})

	t.Run("nothing changed", func(t *testing.T) {
		before := e.snapshot()
		res := admin.submit(admin.get(e.path("/basics/edit")), "Save", nil)
		res.wantRedirect(e.path(""))
		if got := admin.follow(res).flash(); got != "Nothing changed." {
			t.Errorf("flash = %q, want Nothing changed.", got)
		}
		e.assertUnchanged(before, "saving the same values")
	})
}
