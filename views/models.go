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
}

// Status is a configuration's status as the portal shows it (SPEC section 4).
type Status struct {
	Code     string    // "healthy" | "quarantined" | "error" | "not_run" | "running" | "target_unreachable"
	Text     string    // "Healthy", "Delete threshold exceeded", "Error", "Not run yet", "Running"
	Error    string    // message when Code == "error"; the target's last error when "target_unreachable"
	InfoURL  string    // sync status info URL, for the quarantined link
	Progress *Progress // when running
	Since    string    // when the target became unreachable (formatted)
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
}

// ConfigurationsPage is the view model of Configurations.
type ConfigurationsPage struct {
	Base
	Rows []ConfigurationRow
}

// Basics are a configuration's guard settings.
type Basics struct {
	Email     string
	Prevent   bool
	Threshold string // a string so that a badly typed value is kept
}

// BasicsForm is the Basics edit form: typed values and per-field messages.
type BasicsForm struct {
	Basics
	Errors map[string]string // keys "email", "threshold"
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
}

// Cycle is the summary of one sync cycle.
type Cycle struct {
	ID                                                 int64
	Outcome                                            string // Succeeded | Quarantined | Failed | Running
	Trigger                                            string
	Creates, Updates, Deletes, StagedDeletes, Failures int
	Started, Duration, Error                           string
	LogURL                                             string
}

// ChartPoint is one bar of the deletions chart.
type ChartPoint struct {
	CycleID     int64
	Deletions   int // applied + staged
	Quarantined bool
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
	Target                 Target
}

// Target is a configuration's target as the Target pane shows it.
type Target struct {
	Kind        string // "none" | "ldap" | "scim"
	URL, BaseDN string
	LastExport  string // formatted time, or ""
	// Pending and Failed count the exports waiting and refused; each URL
	// is the provisioning log filtered on them.
	Pending, Failed       int
	PendingURL, FailedURL string
	// Unreachable is since when the target fails transiently ("" while it
	// answers); LastError is its last error.
	Unreachable, LastError string
}

// Count is a labelled number, e.g. staged deletions per OU.
type Count struct {
	Label string
	N     int
}

// StagedObject is one object of a staged-deletions sample.
type StagedObject struct {
	Type, Name, DN, Anchor string
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
	ByType      []Count
	ByOU        []Count
	Sample      []StagedObject
	SampleOf    int
	LogURL      string // provisioning log filtered to StagedDelete of that cycle
	LastCycle   *Cycle // shown when not quarantined
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
