package views

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// num formats n with thousands separators: 812, 1,204, -12,000.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	if len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	lead := len(s) % 3
	if lead == 0 {
		lead = 3
	}
	out = append(out, s[:lead]...)
	for i := lead; i < len(s); i += 3 {
		out = append(out, ',')
		out = append(out, s[i:i+3]...)
	}
	return string(out)
}

// id formats a database id for URLs and hidden fields.
func id(n int64) string { return strconv.FormatInt(n, 10) }

// ConfigURL is the address of configuration cid plus an optional suffix
// such as "/logs" or "/status": the portal's one spelling of it.
func ConfigURL(cid int64, suffix string) string {
	return "/configurations/" + id(cid) + suffix
}

// agentURL is the address of an agent's page.
func agentURL(aid int64) string { return "/agents/" + id(aid) }

// isAdmin reports whether the signed-in user may change things.
func isAdmin(b Base) bool { return b.User != nil && b.User.IsAdmin() }

// pageTitle is the document title: "<Title> · syncguard".
func pageTitle(b Base) string {
	if b.Title == "" {
		return "syncguard"
	}
	return b.Title + " · syncguard"
}

// statusText is the wording of a status, which the handler supplies
// (guard.StatusText words every status); the code when it did not.
func statusText(s Status) string {
	if s.Text != "" {
		return s.Text
	}
	return s.Code
}

// statusClass is the badge class of a configuration status code.
func statusClass(code string) string {
	switch code {
	case "healthy":
		return "badge badge-ok"
	case "quarantined", "error":
		return "badge badge-danger"
	case "running":
		return "badge badge-info"
	case "target_unreachable":
		return "badge badge-warn"
	}
	return "badge badge-muted"
}

// targetKind words a target kind for the Target pane.
func targetKind(kind string) string {
	switch kind {
	case "ldap":
		return "LDAP directory"
	case "scim":
		return "SCIM 2.0 service"
	}
	return "None: the target directory copy only"
}

// outcomeClass is the badge class of a cycle outcome.
func outcomeClass(outcome string) string {
	switch outcome {
	case "Succeeded":
		return "badge badge-ok"
	case "Quarantined", "Failed":
		return "badge badge-danger"
	case "Running":
		return "badge badge-info"
	}
	return "badge badge-muted"
}

// logStatusClass is the badge class of a provisioning log status.
func logStatusClass(status string) string {
	switch status {
	case "Success":
		return "badge badge-ok"
	case "Failure":
		return "badge badge-danger"
	case "Staged":
		return "badge badge-warn"
	case "Pending":
		return "badge badge-info"
	}
	return "badge badge-muted"
}

// accountClass is the badge class of an account's state: "Enabled" or
// "Disabled".
func accountClass(state string) string {
	if state == "Disabled" {
		return "badge badge-warn"
	}
	return "badge badge-muted"
}

// outboxClass is the badge class of an outbox message status.
func outboxClass(status string) string {
	switch status {
	case "sent":
		return "badge badge-ok"
	case "failed":
		return "badge badge-danger"
	case "pending":
		return "badge badge-info"
	}
	return "badge badge-muted"
}

// agentClass is the badge class of an agent status.
func agentClass(status string) string {
	if status == "Active" {
		return "badge badge-ok"
	}
	return "badge badge-muted"
}

// flashRole is the ARIA live-region role of a flash message: errors
// interrupt (alert), everything else is polite (status).
func flashRole(f *Flash) string {
	if f.Kind == "error" {
		return "alert"
	}
	return "status"
}

// flashClass is the CSS class of a flash message.
func flashClass(f *Flash) string {
	switch f.Kind {
	case "success", "error":
		return "flash flash-" + f.Kind
	}
	return "flash flash-info"
}

// progressText is "read N · planned N · applied N".
func progressText(p *Progress) string {
	return fmt.Sprintf("read %s · planned %s · applied %s", num(p.Read), num(p.Planned), num(p.Applied))
}

// fieldError returns the message for key in errs ("" when none).
func fieldError(errs map[string]string, key string) string {
	return errs[key]
}

// describedBy joins the ids of a field's hint and error message for
// aria-describedby.
func describedBy(hintID, errID, errMsg string) string {
	s := hintID
	if errMsg != "" {
		if s != "" {
			s += " "
		}
		s += errID
	}
	return s
}

// hintID is the id of a field's hint, "" when it has none.
func hintID(name, hint string) string {
	if hint == "" {
		return ""
	}
	return name + "-hint"
}

// heldWhere says where the deleted objects listed were: "" for
// everywhere.
func heldWhere(ou string) string {
	if ou == "" {
		return ""
	}
	return " at or below " + ou
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// onOff renders a boolean setting.
func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

// Plural says how many: "1 deletion", "812 deletions", "1,204 users",
// with thousands separators. The portal's pages and its messages word
// counts with it.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}

// numString formats s with thousands separators when it is a whole number,
// and returns it unchanged otherwise.
func numString(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return s
	}
	return num(n)
}

// confirmYesClass is the style of the Yes button: deleting is dangerous.
func confirmYesClass(kind string) string {
	if kind == "allow" {
		return "btn btn-danger"
	}
	return "btn btn-primary"
}

// The provisioning log filter values of the SPEC.
var (
	logActions  = []string{"Create", "Update", "Delete", "StagedDelete", "StagedUpdate", "Disable", "Restore"}
	logStatuses = []string{"Success", "Failure", "Skipped", "Staged", "Pending"}
	logTypes    = []string{"user", "group"}
)

// orDefaultList returns list, or def when list is empty.
func orDefaultList(list, def []string) []string {
	if len(list) == 0 {
		return def
	}
	return list
}

// actionClass highlights the deletion actions in the provisioning log.
func actionClass(action string) string {
	switch action {
	case "Delete", "StagedDelete":
		return "action action-delete"
	}
	return "action"
}

// outboxErrorClass shows a failed message's last error in red, and a
// pending retry's error muted.
func outboxErrorClass(status string) string {
	if status == "failed" {
		return "status-error"
	}
	return "muted"
}

// bindMethods are the options of the bind method select.
var bindMethods = []Prop{{Label: "Simple", Value: "simple"}, {Label: "NTLM (Active Directory)", Value: "ntlm"}}

// bindMethodText names a bind method.
func bindMethodText(m string) string {
	for _, o := range bindMethods {
		if o.Value == m {
			return o.Label
		}
	}
	return "Simple"
}

// passwordHint says what an empty password field does.
func passwordHint(kept bool) string {
	if kept {
		return "A password is kept: leave this empty to keep it, or type another."
	}
	return "Never shown again once typed."
}

// roles are the options of a role select.
var roles = []Prop{{Label: "viewer: may only look", Value: "viewer"}, {Label: "admin: may change things", Value: "admin"}}

// dnText writes a DN that a narrow screen breaks after its commas rather
// than inside a name: the text is the DN itself (a <wbr> adds none), escaped.
func dnText(dn string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		for i, part := range dnParts(dn) {
			if i > 0 {
				if _, err := io.WriteString(w, "<wbr>"); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(w, templ.EscapeString(part)); err != nil {
				return err
			}
		}
		return nil
	})
}

// dnParts splits a DN after each comma, keeping the commas: the places a
// line may break.
func dnParts(dn string) []string {
	var out []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			out = append(out, dn[start:i+1])
			start = i + 1
		}
	}
	return append(out, dn[start:])
}

// formFields are the fields of the Basics form, in their order.
var formFields = []string{"email", "threshold", "users", "groups", "memberships", "percent", "hold", "remind"}

// firstError returns the first field of the Basics form with a message.
func firstError(errs map[string]string) string {
	for _, f := range formFields {
		if errs[f] != "" {
			return f
		}
	}
	return ""
}

// optionOf is the one value a single select shows of a list ("" for none).
func optionOf(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// typeWord words an object type for people: "User", "Group".
func typeWord(t string) string {
	switch t {
	case "user":
		return "User"
	case "group":
		return "Group"
	}
	return t
}

// optionWord words a filter option: object types capitalized, the rest
// as they are (actions and statuses are names).
func optionWord(o string) string { return typeWord(o) }

// fateClass is the badge class of a staged entry's fate.
func fateClass(fate string) string {
	switch fate {
	case "pending":
		return "badge badge-warn"
	case "allowed":
		return "badge badge-danger"
	}
	return "badge badge-muted"
}

// stopSentence says what a quarantine holds, why the guard stopped it,
// and what changed in the threshold since.
func stopSentence(s Stop) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s staged by cycle %d", Plural(s.Deletes, "deletion", "deletions"), s.CycleID)
	if s.Updates > 0 {
		fmt.Fprintf(&b, ", and the member removals of %s,", Plural(s.Updates, "group", "groups"))
	}
	b.WriteString(" wait for an admin.")
	if s.Why != "" {
		fmt.Fprintf(&b, " The guard stopped it because %s.", s.Why)
	}
	if s.ThresholdNow != "" {
		fmt.Fprintf(&b, " The threshold is now %s: a change applies from the next cycle and releases nothing already staged.", s.ThresholdNow)
	}
	return b.String()
}

// previewSentence says what a previewed cycle would change.
func previewSentence(v Preview) string {
	s := fmt.Sprintf("It would create %s, update %s and delete %s", num(v.Creates), num(v.Updates), num(v.Deletes))
	if v.MembershipRemovals > 0 {
		s += fmt.Sprintf(", and remove %s from groups that stay", Plural(v.MembershipRemovals, "member link", "member links"))
	}
	return s + "."
}
