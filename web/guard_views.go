package web

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// What the guard knows, worded for the portal's pages: one place, so that
// the configuration page, the sync status info and the confirmations say
// it alike.

// limitNames are the limits as the Basics pane names them.
var limitNames = map[string]string{
	guard.LimitAll:         "Accidental deletion threshold",
	guard.LimitUsers:       "Deleted users limit",
	guard.LimitGroups:      "Deleted groups limit",
	guard.LimitMemberships: "Removed memberships limit",
	guard.LimitPercent:     "Deleted percentage limit",
}

// limitRows words limits and their counts.
func limitRows(limits []guard.LimitCheck) []views.LimitRow {
	out := make([]views.LimitRow, 0, len(limits))
	for _, l := range limits {
		unit := ""
		if l.Kind == guard.LimitPercent {
			unit = " %"
		}
		r := views.LimitRow{Name: limitNames[l.Kind], Limit: "off", Count: strconv.Itoa(l.Count) + unit, Reached: l.Reached}
		if l.Limit > 0 {
			r.Limit = strconv.Itoa(l.Limit) + unit
		}
		out = append(out, r)
	}
	return out
}

// basicsLimits are the Basics pane's rows besides the threshold: the
// other limits and the reminders.
func basicsLimits(b store.Basics) []views.LimitRow {
	var out []views.LimitRow
	for _, l := range guard.LimitsOf(b, nil)[1:] {
		r := limitRows([]guard.LimitCheck{l})[0]
		if !b.Prevent {
			r.Limit = "off (prevention is off)"
		}
		out = append(out, r)
	}
	return append(out, views.LimitRow{Name: "Remind every", Limit: remindWords(b.RemindEvery)})
}

// remindWords words how often reminders go out.
func remindWords(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return humanInterval(d)
}

// basicsView is the Basics as the form shows them.
func basicsView(b store.Basics) views.Basics {
	remind := "0"
	if b.RemindEvery > 0 {
		remind = shortDuration(b.RemindEvery)
	}
	hold := "0"
	if b.Hold > 0 {
		hold = store.HoldText(b.Hold)
	}
	return views.Basics{Email: b.Email, Prevent: b.Prevent, Threshold: strconv.Itoa(b.Threshold),
		Users: strconv.Itoa(b.ThresholdUsers), Groups: strconv.Itoa(b.ThresholdGroups),
		Memberships: strconv.Itoa(b.ThresholdMemberships), Percent: strconv.Itoa(b.ThresholdPercent), RemindEvery: remind,
		Hold: hold}
}

// shortDuration writes a duration as people type it: 24h, 90m, 45s.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// stopView tells the pending quarantine of an overview, or nil.
func stopView(o *guard.Overview, now time.Time) *views.Stop {
	q := o.Quarantine
	if q == nil {
		return nil
	}
	s := &views.Stop{CycleID: q.ID, Since: formatTime(o.StoppedSince), Ago: agoWords(now.Sub(o.StoppedSince)),
		Deletes: o.PendingStaged, Updates: q.PendingUpdates, Why: guard.StoppedBy(q)}
	if then := tripThreshold(q); then != 0 && then != o.Config.Basics.Threshold {
		s.ThresholdNow = fmt.Sprintf("%d (it was %d when the guard stopped sync)", o.Config.Basics.Threshold, then)
	}
	s.Told, s.ToldOK = toldWords(o)
	return s
}

// tripThreshold is the threshold in force when a quarantine tripped.
func tripThreshold(q *store.Cycle) int {
	for _, l := range q.Limits {
		if l.Kind == guard.LimitAll && l.Limit > 0 {
			return l.Limit
		}
	}
	return q.Threshold
}

// toldWords says whether the admins were told of the last quarantine: the
// mail sent (to whom, when), waiting in the outbox (and why), given up,
// or never queued (no notification address).
func toldWords(o *guard.Overview) (string, bool) {
	n := o.Told
	switch {
	case n == nil:
		return "Nobody was told: no notification email is set in Basics.", false
	case n.Status == store.MailSent:
		return fmt.Sprintf("The notification was sent to %s at %s.", n.To, formatTime(n.SentAt)), true
	case n.Status == store.MailFailed:
		return fmt.Sprintf("The notification to %s could not be sent and was given up: %s (see the Outbox).", n.To, n.LastError), false
	case n.LastError != "":
		return fmt.Sprintf("The notification to %s is not sent yet: %s. It waits in the Outbox.", n.To, n.LastError), false
	}
	return fmt.Sprintf("The notification to %s waits in the Outbox.", n.To), false
}

// agoWords words how long ago: "3 minutes", "2 hours", "4 days".
func agoWords(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return views.Plural(int(d/time.Minute), "minute", "minutes")
	case d < 48*time.Hour:
		return views.Plural(int(d/time.Hour), "hour", "hours")
	}
	return views.Plural(int(d/(24*time.Hour)), "day", "days")
}

// triggerWords words what started a cycle.
func triggerWords(t string) string {
	switch t {
	case guard.TriggerSchedule:
		return "the schedule"
	case guard.TriggerManual:
		return "Run sync now (or syncguard sync)"
	case guard.TriggerAllow:
		return "Allow deletes"
	case guard.TriggerRestart:
		return "Restart sync"
	}
	return t
}

// fateWords says what became of a quarantine.
func fateWords(c *store.Cycle) string {
	switch c.Resolution {
	case "allowed":
		s := fmt.Sprintf("allowed by %s: %d deleted", c.ResolvedBy, c.Allowed)
		if discarded := c.StagedDeletes - c.Allowed; discarded > 0 {
			s += fmt.Sprintf(", %d released", discarded)
		}
		return s
	case "restarted":
		return fmt.Sprintf("restarted by %s: %d discarded, nothing deleted", c.ResolvedBy, c.StagedDeletes-c.Allowed)
	case "released":
		return "released: every object came back"
	}
	s := fmt.Sprintf("pending: %d waiting", c.Pending)
	if c.Allowed > 0 {
		s += fmt.Sprintf(", %d allowed so far", c.Allowed)
	}
	return s
}

// storyView tells a decided quarantine for the sync status info.
func storyView(o *guard.Overview) *views.Story {
	q := o.LastQuarantine
	if q == nil || q.Resolution == "" {
		return nil
	}
	s := &views.Story{CycleID: q.ID, When: formatTime(q.FinishedAt), Threshold: tripThreshold(q),
		Why:    fmt.Sprintf("%s would have been deleted: %s.", views.Plural(q.StagedDeletes, "object", "objects"), guard.StoppedBy(q)),
		LogURL: views.ConfigURL(o.Config.ID, "/logs?action=StagedDelete&cycle="+strconv.FormatInt(q.ID, 10))}
	switch q.Resolution {
	case "allowed":
		s.Ended = fmt.Sprintf("Allow deletes by %s at %s: %s deleted.", q.ResolvedBy, formatTime(q.ResolvedAt),
			views.Plural(q.Allowed, "object", "objects"))
		if back := q.StagedDeletes - q.Allowed; back > 0 {
			s.Ended += fmt.Sprintf(" The other %d came back into scope or were discarded: not deleted.", back)
		}
	case "restarted":
		s.Ended = fmt.Sprintf("Restart sync by %s at %s: the staged deletions were discarded, nothing was deleted.", q.ResolvedBy,
			formatTime(q.ResolvedAt))
	case "released":
		s.Ended = fmt.Sprintf("Every object came back into scope (released at %s): nothing was deleted.", formatTime(q.ResolvedAt))
	}
	s.Told, s.ToldOK = toldWords(o)
	return s
}

// previewView words a preview, or why there is none.
func previewView(p *guard.Preview, err error) *views.Preview {
	if err != nil {
		msg := store.ErrorMessage(err)
		if msg == "" {
			msg = err.Error()
		}
		return &views.Preview{Error: "No preview: the source could not be read (" + msg + ")."}
	}
	v := &views.Preview{Creates: p.Creates, Updates: p.Updates, Deletes: p.Deletes, MembershipRemovals: p.MembershipRemovals,
		WouldQuarantine: p.WouldQuarantine, Held: p.Held, Reason: p.Reason, Limits: limitRows(p.Limits),
		ByCause: countsOf(p.DeletesByCause), ByOU: countsOf(p.DeletesByOU)}
	for _, d := range p.Sample {
		v.Sample = append(v.Sample, views.StagedObject{Type: typeWord(d.Type, false), Name: d.Name, DN: d.DN, Anchor: d.Anchor,
			Cause: string(d.Cause), Detail: d.Detail})
	}
	return v
}

// countsOf lists counts by label, most first.
func countsOf(m map[string]int) []views.Count {
	out := make([]views.Count, 0, len(m))
	for k, n := range m {
		out = append(out, views.Count{Label: k, N: n})
	}
	sortViewCounts(out)
	return out
}

// sortViewCounts sorts counts most first, then by label.
func sortViewCounts(c []views.Count) {
	slices.SortFunc(c, func(a, b views.Count) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.Label, b.Label)
	})
}
