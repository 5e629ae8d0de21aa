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
	Nav   string // "configurations" | "audit" | "outbox" | "users" | "account": the current nav item
	// Live, when set, is how many seconds until the page shows itself
	// again: a cycle runs. Without JavaScript a refresh does it; with it,
	// static/app.js fetches the page and replaces what changed.
	Live int
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
	// Hold is how long deletions are held before they become final, as
	// typed ("72h", "3d"; "0": deleted at once).
	Hold string
	// Held counts the objects on hold now, for the pane; HeldUntil is
	// when the first of them is purged.
	Held      int
	HeldUntil string
}

// BasicsForm is the Basics edit form: typed values and per-field messages.
type BasicsForm struct {
	Basics
	// Errors: keys "email", "threshold", "users", "groups",
	// "memberships", "percent", "remind", "hold".
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

// SourceForm is a source's settings as typed (New configuration's first
// step, Edit Source), with a message per field and Test connection's
// answer. The bind password is never in it: PasswordKept says one is kept.
type SourceForm struct {
	Action                                                     string // where the form posts
	Draft                                                      string // the draft holding what was typed before (hidden field "draft")
	Name                                                       string // New configuration only (ShowName)
	ShowName                                                   bool
	URL, BaseDN, BindDN, BindMethod, CAFile, TLSPin, TLSServer string
	StartTLS                                                   bool
	// PasswordKept says a bind password is kept (the stored one, or one
	// typed earlier in this form): leaving the field empty keeps it.
	PasswordKept bool
	Errors       map[string]string // keys "name", "source", "base_dn", "bind_dn", "bind_method", "ca_file", "tls_pin"
	Test         *ConnTest
	// Preview is what the next cycle would do with these settings (Edit
	// Source's Preview), nothing saved.
	Preview *Preview
}

// ConnTest is the answer of Test connection.
type ConnTest struct {
	OK    bool
	Title string   // "Connected to …" / "Could not connect"
	Lines []string // what was found, or the reason and what to check
}

// OUBrowser is one level of the source's own tree in the scope picker:
// the OU At, its children (a page of them), and the OUs ticked so far.
type OUBrowser struct {
	Draft  string // hidden field "draft"
	At     string // the DN whose children are listed
	Path   []OUItem
	Self   OUItem   // At itself, which can be ticked too
	Items  []OUItem // At's children on this page
	Filter string   // narrows the children by name
	Page   int      // from 1
	Pages  int
	Total  int // children of At (after the filter)
	// Selected are the ticked OUs with what they hold; Users and Groups
	// total them (an OU inside another ticked one counted once).
	Selected      []SelectedOU
	Users, Groups int
	Error         string
	// Focus puts the focus on the first OU: Edit Scope just opened.
	Focus bool
}

// OUItem is one OU of the scope picker.
type OUItem struct {
	DN, Name string
	Checked  bool
	Children bool // there is something below it to browse
}

// SelectedOU is one ticked OU and the users and groups at or below it.
type SelectedOU struct {
	DN            string
	Users, Groups int
	Counted       bool   // the counts are known
	Inside        string // the ticked OU it is inside of, if any
}

// ScheduleForm is the Edit Schedule form.
type ScheduleForm struct {
	Interval string
	Error    string
}

// SourceChange asks to confirm a source change that moves what syncguard
// reads (another server or base DN): the next cycle compares the new
// source with the target directory, and what is not there is deleted.
type SourceChange struct {
	Draft   string
	Changes []string // "base DN: dc=a → dc=b"
	// ScopeReset says the scope's OUs are not under the new base DN: the
	// scope becomes the whole new base DN.
	ScopeReset bool
	Users      int // objects in the target directory now
	Groups     int
	Threshold  int
	Prevent    bool
	// Preview is what the next cycle would do with the new source
	// (creates, updates, deletes, whether the guard would stop it):
	// web.previewSourceChange fills it; nil when it could not be planned.
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
	ScopeForm *OUBrowser
	ScopeErr  string // why the scope cannot be saved
	// SourceForm, when non-nil, shows the Source pane as Edit Source;
	// SourceChange asks to confirm a change that moves what is read.
	SourceForm   *SourceForm
	SourceChange *SourceChange
	// ScheduleForm, when non-nil, shows the Schedule pane as Edit Schedule.
	ScheduleForm           *ScheduleForm
	Source, BaseDN, BindDN string
	BindMethod             string
	StartTLS               bool
	CAFile, TLSPin         string
	TLSServer              string
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

	// TargetForm, when non-nil, shows the Target pane as Edit Target;
	// TargetChange asks to confirm a change of the target's destination.
	TargetForm   *TargetForm
	TargetChange *TargetChange
	// Stop is the pending quarantine, nil while sync runs.
	Stop *Stop
	// Limits are the limits besides the threshold and the reminders,
	// as the Basics pane shows them.
	Limits []LimitRow
	// ScopePreview is what the next cycle would do with the OUs ticked in
	// Edit Scope (Preview), nothing saved.
	ScopePreview *Preview
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
	// Hold is how long allowed deletions are held ("" when they are
	// not), and HoldUntil until when if allowed now.
	Hold, HoldUntil string
	// Held counts the deleted objects on hold; HeldUntil is when the
	// first of them is purged.
	Held      int
	HeldUntil string
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

// ConfirmPage is the view model of Confirm (Allow deletes, Restart sync,
// Restore deleted objects).
type ConfirmPage struct {
	Base
	ConfigID     int64
	ConfigName   string
	Kind         string // "allow" | "restart" | "restore"
	Question     string // "Allow 812 deletions from corp?" / "Restart sync for corp?"
	Explain      string // what Yes will do
	Action       string // POST URL for Yes
	QuarantineID int64  // hidden field "quarantine" in the Yes form (allow, restart)
	Count        int    // hidden field "count" in the Yes form (allow, restart)
	// Hidden are the Yes form's fields for a restore: what it restores.
	Hidden []Hidden
	// Items names what Yes acts on (a few), and More how many more.
	Items []string
	More  int
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

// WizardStep is one step of New configuration.
type WizardStep struct {
	Key, Name string
	URL       string // for going back to a step already done; "" otherwise
	Current   bool
}

// NewConfigPage is the view model of NewConfig: one step of New
// configuration. Nothing is saved before the last step.
type NewConfigPage struct {
	Base
	Steps  []WizardStep
	Step   string // the Key of the current step: "source", "scope", "target" or "basics"
	Draft  string
	Source SourceForm // step "source"
	Scope  OUBrowser  // step "scope"
	Target TargetForm // step "target"
	// Step "basics": Basics and the schedule, and a summary of the rest.
	Basics   BasicsForm
	Interval string
	Summary  []Prop
	Error    string // a message for the whole step
}

// Prop is a labelled value of a summary.
type Prop struct {
	Label, Value string
	Mono         bool
}

// DeletePage is the view model of DeleteConfig: the confirmation, typed.
type DeletePage struct {
	Base
	ConfigID      int64
	Name          string
	Users, Groups int
	Typed, Error  string
}

// UserRow is one user of the Users page.
type UserRow struct {
	ID                  int64
	Name, Role          string
	Created, LastSignIn string
	Self                bool // the signed-in user
	LastAdmin           bool // the only admin: cannot be demoted or removed
}

// UsersPage is the view model of Users.
type UsersPage struct {
	Base
	Rows []UserRow
}

// UserForm is Add user and Reset password: typed values (never the
// passwords) and a message per field ("name", "role", "password",
// "repeat").
type UserForm struct {
	Base
	ID     int64 // the user whose password is reset; 0 for Add user
	Name   string
	Role   string
	Errors map[string]string
}

// RemoveUserPage is the view model of RemoveUser: the confirmation.
type RemoveUserPage struct {
	Base
	ID         int64
	Name, Role string
	Self       bool
}

// Hidden is a hidden field of a form.
type Hidden struct {
	Name, Value string
}

// HeldRow is one deleted object on hold.
type HeldRow struct {
	Anchor, Type, Name, DN, Cause string
	Deleted, Until, AllowedBy     string
	RestoreURL                    string // the confirmation of restoring it alone
}

// DeletedPage is the view model of Deleted: the deleted objects held
// before their deletion becomes final (SPEC section 10).
type DeletedPage struct {
	Base
	ConfigID   int64
	ConfigName string
	Hold       string // how long deletions are held: "72h", or "off"
	Total      int    // objects held in all
	NextPurge  string // when the first of them is purged
	// OU filters the list (the OUs at or below it); OUs are those
	// that hold objects, with how many.
	OU  string
	OUs []Count
	// Shown counts the objects the filter selects; Rows are a page of
	// them, newest first.
	Shown int
	Rows  []HeldRow
	// UpTo is the newest object held when the page was made: "Restore
	// all" restores no object held after the admin looked.
	UpTo              int64
	NextURL, FirstURL string
	// RestoreAllURL and RestoreOUURL are the confirmations of restoring
	// every object held, and those of the OU filter ("" without one).
	RestoreAllURL, RestoreOUURL string
}
