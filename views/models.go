// Package views holds the portal's templ components and the view-model
// structs they render. The web package builds a view model per request and
// renders one page component with it; views imports nothing else of ours.
package views

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // "success" | "error" | "info"
	Text string
}

// User is the signed-in portal user.
type User struct {
	Name, Role string
}

// IsAdmin reports whether the user may change things (role "admin"); a
// "viewer" may only look.
func (u User) IsAdmin() bool { return u.Role == "admin" }

// Base is embedded in every page view model: what the layout needs.
type Base struct {
	Title string
	User  *User // nil when signed out
	CSRF  string
	Flash *Flash
	Nav   string // "configurations" | "audit" | "outbox" | "account": the current nav item
	// Live, when set, is how many seconds until the page shows itself
	// again: a cycle runs. Without JavaScript a refresh does it; with it,
	// static/app.js fetches the page and replaces what changed.
	Live int
}

// Status is a configuration's status as the portal shows it (SPEC section 4).
type Status struct {
	Code     string    // "healthy" | "quarantined" | "error" | "not_run" | "running"
	Text     string    // "Healthy", "Delete threshold exceeded", "Error", "Not run yet", "Running"
	Error    string    // message when Code == "error"
	InfoURL  string    // sync status info URL, for the quarantined link
	Progress *Progress // when running
}

// Progress is the progress of a running cycle.
type Progress struct {
	Read, Planned, Applied int
	Phase                  string // "reading" | "planning" | "applying"
}

// ConfigurationRow is one line of the configurations list.
type ConfigurationRow struct {
	ID           int64
	Name, Source string
	Status       Status
	Objects      int
	LastCycle    string // formatted time or ""
	// StoppedSince says since when sync is stopped ("" while it runs).
	StoppedSince string
}

// ConfigurationsPage is the view model of Configurations.
type ConfigurationsPage struct {
	Base
	Rows []ConfigurationRow
}

// Basics are a configuration's guard settings, each a string so that a
// badly typed value is kept.
type Basics struct {
	Email     string
	Prevent   bool
	Threshold string
	// The limits besides the threshold ("0": off) and how often a
	// reminder goes out while sync is stopped.
	Users, Groups, Memberships, Percent string
	RemindEvery                         string
}

// BasicsForm is the Basics edit form: typed values and per-field messages.
type BasicsForm struct {
	Basics
	// Errors: keys "email", "threshold", "users", "groups",
	// "memberships", "percent", "remind".
	Errors map[string]string
	// Preview, when set, is what the next cycle would do with the values
	// typed (nothing saved).
	Preview *Preview
}

// LimitRow is one of the guard's limits with a plan's count.
type LimitRow struct {
	Name    string // "Accidental deletion threshold", "Deleted users" …
	Limit   string // "50", "20 %", "off"
	Count   string // "60", "24 %"
	Reached bool
}

// Preview is what the next cycle would do, saving nothing.
type Preview struct {
	Creates, Updates, Deletes, MembershipRemovals int
	WouldQuarantine, Held                         bool
	Reason                                        string
	Limits                                        []LimitRow
	ByCause, ByOU                                 []Count
	Sample                                        []StagedObject
	// Error says why there is no preview (the source failed).
	Error string
}

// ScopeOU is one OU offered in the scope picker.
type ScopeOU struct {
	DN      string
	Depth   int // nesting below the base DN, 0 for a top-level OU
	Checked bool
}

// ScopeForm is the Scope edit form.
type ScopeForm struct {
	OUs   []ScopeOU
	Error string
	// Preview, when set, is what the next cycle would do with the OUs
	// ticked (nothing saved).
	Preview *Preview
}

// Cycle is the summary of one sync cycle.
type Cycle struct {
	ID int64
	// Outcome is the cycle's outcome as stored (Succeeded, Quarantined,
	// Failed) and OutcomeText as people read it ("Delete threshold
	// exceeded" for a quarantine, "Held: sync stopped" for a cycle run
	// while one was pending).
	Outcome, OutcomeText                               string
	Trigger                                            string // as people read it: "schedule", "Run sync now" …
	Creates, Updates, Deletes, StagedDeletes, Failures int
	Started, Duration, Error                           string
	LogURL                                             string
	// Fate says what became of a quarantine: "allowed by alice: 60
	// deleted", "restarted by bob: 60 discarded", "pending: 60 waiting".
	Fate string
}

// ChartPoint is one bar of the deletions chart.
type ChartPoint struct {
	CycleID     int64
	Deletions   int // applied + staged
	Quarantined bool
	Threshold   int // the threshold in force for that cycle (0: unknown)
}

// Chart is the deletions-per-cycle chart against the threshold.
type Chart struct {
	Points    []ChartPoint // oldest first, up to 20
	Threshold int
	Prevent   bool
}

// ConfigurationPage is the view model of Configuration.
type ConfigurationPage struct {
	Base
	ID     int64
	Name   string
	Status Status
	Basics Basics
	// BasicsForm, when non-nil, shows the Basics pane as the edit form
	// (pencil clicked, or shown again with errors).
	BasicsForm *BasicsForm
	Scope      []string // in-scope OU DNs (empty = the base DN)
	// ScopeForm, when non-nil, shows the Scope pane as the OU picker.
	ScopeForm              *ScopeForm
	Source, BaseDN, BindDN string
	Interval               string
	NextRun                string
	AgentID                int64
	AgentName              string
	Users, Groups          int // objects in the target directory
	PendingStaged          int
	QuarantineID           int64
	Cycles                 []Cycle // recent, newest first
	Chart                  Chart
	// Stop is the pending quarantine, nil while sync runs.
	Stop *Stop
	// Limits are the limits besides the threshold and the reminders,
	// as the Basics pane shows them.
	Limits []LimitRow
}

// Stop is a quarantine as the configuration page and the sync status info
// tell it.
type Stop struct {
	CycleID      int64
	Since, Ago   string // when sync stopped, and how long ago in words
	Deletes      int    // staged deletes still pending
	Updates      int    // groups whose member removals are still pending
	Why          string // "60 deletions reach the threshold of 50"
	ThresholdNow string // "100" when the threshold changed since it tripped, else ""
	Told         string // whether and how the admins were told
	ToldOK       bool
}

// Count is a labelled number, e.g. staged deletions per OU.
type Count struct {
	Label string
	N     int
}

// StagedObject is one object of a staged-deletions sample.
type StagedObject struct {
	Type, Name, DN, Anchor string
	Cause                  string // why it would be deleted
	Detail                 string // where it is now, who changed the scope
	// Account is "Enabled" or "Disabled" for a user in the target
	// directory, "" otherwise.
	Account string
	// InScope: the object is in the scope as it is now (it would come back).
	InScope bool
}

// StatusInfoPage is the view model of StatusInfo (the sync status info).
type StatusInfoPage struct {
	Base
	ConfigID    int64
	ConfigName  string
	Status      Status
	Quarantined bool
	CycleID     int64
	When        string
	Staged      int
	Threshold   int
	Pending     int
	Stop        *Stop
	Limits      []LimitRow // as in force when it tripped, with its counts
	ByType      []Count
	ByOU        []Count
	ByCause     []Count
	Sample      []StagedObject
	SampleOf    int
	LogURL      string // provisioning log filtered to StagedDelete of that cycle
	LastCycle   *Cycle // shown when not quarantined
	// Story is the last quarantine, told when none is pending.
	Story *Story
	// Part is the filter of the staged objects shown (and allowed).
	Part Part
	// Pager of the staged objects: the next and previous pages, and
	// which of them are shown ("1–50").
	NextURL, PrevURL, Shown string
	// OUs, Causes are the choices of the part filter.
	OUs, Causes []string
}

// Story is a quarantine decided: when it stopped sync, why, and how it
// ended.
type Story struct {
	CycleID   int64
	When, Why string
	Ended     string // "Allowed by alice at …: 60 deleted."
	Told      string
	ToldOK    bool
	LogURL    string
	Threshold int
}

// Part is a part of a quarantine's staged deletes: the filters of the
// sync status info and of a partial Allow deletes (they intersect).
type Part struct {
	OUs     []string
	Type    string // "user" | "group" | ""
	Cause   string
	Anchors []string
	// LeaveInScope leaves out the objects the scope holds again.
	LeaveInScope bool
}

// IsZero reports whether the part is all of it.
func (p Part) IsZero() bool {
	return len(p.OUs) == 0 && p.Type == "" && p.Cause == "" && len(p.Anchors) == 0 && !p.LeaveInScope
}

// ConfirmPage is the view model of Confirm (Allow deletes, Restart sync).
type ConfirmPage struct {
	Base
	ConfigID     int64
	ConfigName   string
	Kind         string // "allow" | "restart"
	Question     string // "Allow 812 deletions from corp?" / "Restart sync for corp?"
	Explain      string // what Yes will do
	Action       string // POST URL for Yes
	QuarantineID int64  // hidden field "quarantine" in the Yes form
	Count        int    // hidden field "count" in the Yes form
	// Nothing, when non-empty, says there is nothing to confirm: it is shown
	// with a link back and no Yes.
	Nothing   string
	CancelURL string // No goes (GET) here
	// Allow deletes of a part: the part (carried by Yes), in words, the
	// objects that go (a sample), how many stay pending, and the objects
	// the scope holds again (with the link that leaves them out, or puts
	// them back).
	Part         Part
	PartWords    string
	Going        []StagedObject
	GoingOf      int
	Staying      int
	InScopeAgain int
	ToggleURL    string
}

// LogFilter is the provisioning log filter as typed, with per-field messages
// (keys "action", "status", "type", "cycle", "from", "to", "q").
type LogFilter struct {
	Action, Status, Type, Cycle, From, To, Q string
	Errors                                   map[string]string
}

// LogRow is one provisioning log entry.
type LogRow struct {
	ID                                              int64
	Time                                            string
	Cycle                                           int64
	Action, Status, Type, Name, DN, Anchor, Details string
	Cause                                           string // a staged delete's cause, or ""
	Fate                                            string // a staged entry's fate: pending, allowed, discarded
	URL                                             string // the entry's page
}

// LogsPage is the view model of Logs (the provisioning log).
type LogsPage struct {
	Base
	ConfigID                  int64
	ConfigName                string
	Filter                    LogFilter
	Rows                      []LogRow
	NextURL, FirstURL, CSVURL string
	// Actions, Statuses and Types are the select options; empty means the
	// SPEC's values.
	Actions, Statuses, Types []string
}

// LogEntryPage is the view model of LogEntry.
type LogEntryPage struct {
	Base
	ConfigID   int64
	ConfigName string
	Entry      LogRow
	BackURL    string
}

// AgentConfig is a configuration served by an agent.
type AgentConfig struct {
	ID   int64
	Name string
}

// AgentPage is the view model of Agent.
type AgentPage struct {
	Base
	ID                                          int64
	Name, Host, Version, LastHeartbeat, Started string
	Status                                      string // "Active" | "Inactive"
	Configurations                              []AgentConfig
}

// AuditRow is one audit event.
type AuditRow struct {
	Time, Actor, Action, Configuration, Details string
}

// AuditPage is the view model of Audit.
type AuditPage struct {
	Base
	Rows    []AuditRow
	NextURL string
}

// OutboxRow is one notification of the outbox.
type OutboxRow struct {
	ID                                    int64
	To, Subject                           string
	Status                                string // pending | sent | failed
	Attempts                              int
	LastError, Created, Sent, NextAttempt string
}

// OutboxPage is the view model of Outbox.
type OutboxPage struct {
	Base
	Rows []OutboxRow
}

// LoginPage is the view model of Login.
type LoginPage struct {
	Base
	Username, Next, Error string
}

// ErrorPage is the view model of Error.
type ErrorPage struct {
	Base
	Code           int
	Title, Message string
}

// AccountPage is the view model of Account: the signed-in user's own
// password and sessions.
type AccountPage struct {
	Base
	Errors   map[string]string // keys "current", "new", "repeat"
	Sessions []SessionRow
	Idle     string // how long an unused session lasts, in words
	Lifetime string // how long any session lasts, in words
}

// SessionRow is one place where the user is signed in.
type SessionRow struct {
	SignedIn, LastUsed, From, Browser string
	Current                           bool // this browser
}
