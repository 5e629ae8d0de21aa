package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// render renders c and parses the HTML.
func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	html := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc, html
}

// byLabel finds the control bound to the <label> whose text is label.
func byLabel(t *testing.T, doc *goquery.Document, label string) *goquery.Selection {
	t.Helper()
	var forID string
	doc.Find("label").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if strings.TrimSpace(s.Text()) == label {
			forID, _ = s.Attr("for")
			return false
		}
		return true
	})
	if forID == "" {
		t.Fatalf("no <label for> with text %q", label)
	}
	ctl := doc.Find("#" + forID)
	if ctl.Length() != 1 {
		t.Fatalf("label %q: %d controls with id %q, want 1", label, ctl.Length(), forID)
	}
	return ctl
}

// byText returns the elements matching sel whose trimmed text is text.
func byText(doc *goquery.Document, sel, text string) *goquery.Selection {
	return doc.Find(sel).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.TrimSpace(s.Text()) == text
	})
}

var (
	admin  = &User{Name: "alice", Role: "admin"}
	viewer = &User{Name: "victor", Role: "viewer"}
)

func configPage(u *User) ConfigurationPage {
	return ConfigurationPage{
		Base:   Base{Title: "corp", User: u, CSRF: "tok", Nav: "configurations"},
		ID:     7,
		Name:   "corp",
		Status: Status{Code: "quarantined", Text: "Delete threshold exceeded", InfoURL: "/configurations/7/status"},
		Basics: Basics{Email: "ops@example.com", Prevent: true, Threshold: "500"},
		Scope:  []string{"OU=Staff,DC=corp,DC=example"},
		Source: "ldap://dc1:389", BaseDN: "DC=corp,DC=example", BindDN: "CN=svc,DC=corp,DC=example",
		Interval: "2m", NextRun: "paused",
		AgentID: 3, AgentName: "agent-1",
		Users: 1204, Groups: 40,
		PendingStaged: 812, QuarantineID: 42,
		Stop: &Stop{CycleID: 12, Since: "2025-01-02 10:00:00 UTC", Ago: "3 hours", Deletes: 812,
			Why: "812 deletions reach the threshold of 500", Told: "The notification was sent.", ToldOK: true},
		Cycles: []Cycle{
			{ID: 12, Outcome: "Quarantined", Deletes: 0, StagedDeletes: 812, Started: "2025-01-02 10:00"},
			{ID: 11, Outcome: "Succeeded", Creates: 1204, Started: "2025-01-02 09:58"},
		},
		Chart: Chart{Points: []ChartPoint{{CycleID: 11}, {CycleID: 12, Deletions: 812, Quarantined: true}}, Threshold: 500, Prevent: true},
	}
}

func TestConfigurationAdmin(t *testing.T) {
	doc, _ := render(t, Configuration(configPage(admin)))

	for label, href := range map[string]string{
		"Edit Basics":   "/configurations/7/basics/edit",
		"Edit Scope":    "/configurations/7/scope/edit",
		"Edit Source":   "/configurations/7/source/edit",
		"Edit Schedule": "/configurations/7/schedule/edit",
	} {
		a := doc.Find(`a[aria-label="` + label + `"]`)
		if got, want := a.Length(), 1; got != want {
			t.Fatalf("links %q = %d, want %d", label, got, want)
		}
		if got, _ := a.Attr("href"); got != href {
			t.Errorf("%q href = %q, want %q", label, got, href)
		}
		if a.Find(`svg[aria-hidden="true"]`).Length() != 1 {
			t.Errorf("%q has no aria-hidden icon", label)
		}
	}

	menu := doc.Find(`div.menu`)
	button := menu.Find(`button[aria-label="More actions"]`)
	if got, want := button.Length(), 1; got != want {
		t.Fatalf("More actions buttons = %d, want %d", got, want)
	}
	if target := button.AttrOr("popovertarget", ""); target == "" || menu.Find("#"+target+"[popover]").Length() != 1 {
		t.Fatalf("More actions opens %q, which is no popover of the menu", target)
	}
	for text, href := range map[string]string{
		"View provisioning log": "/configurations/7/logs",
		"View agent":            "/agents/3",
		"Allow deletes":         "/configurations/7/allow-deletes",
		"Restart sync":          "/configurations/7/restart",
		"Delete configuration":  "/configurations/7/delete",
	} {
		a := menu.Find("a").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.TrimSpace(s.Text()) == text })
		if a.Length() != 1 {
			t.Errorf("menu item %q missing", text)
			continue
		}
		if got, _ := a.Attr("href"); got != href {
			t.Errorf("menu item %q href = %q, want %q", text, got, href)
		}
	}
	run := menu.Find(`form[method="post"][action="/configurations/7/sync"]`)
	if run.Length() != 1 || strings.TrimSpace(run.Find("button").Text()) != "Run sync now" {
		t.Errorf("Run sync now form missing")
	}

	// Status link and quarantine banner.
	links := byText(doc, "a", "Delete threshold exceeded")
	if links.Length() == 0 {
		t.Fatal("no Delete threshold exceeded link")
	}
	if got, _ := links.First().Attr("href"); got != "/configurations/7/status" {
		t.Errorf("status link href = %q", got)
	}
	if got, want := strings.Join(strings.Fields(doc.Find(".banner h2").Text()), " "), "Sync stopped since 2025-01-02 10:00:00 UTC (3 hours ago)"; got != want {
		t.Errorf("banner = %q, want %q", got, want)
	}
	banner := strings.Join(strings.Fields(doc.Find(".banner").Text()), " ")
	for _, want := range []string{"812 deletions staged by cycle 12 wait for an admin.",
		"The guard stopped it because 812 deletions reach the threshold of 500.", "The notification was sent."} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q: %s", want, banner)
		}
	}
	if strings.Contains(banner, "What was staged") {
		t.Errorf("banner still reads %q", banner)
	}

	// Basics in view mode.
	dl := doc.Find(`section[aria-labelledby="basics-heading"] dl`).Text()
	for _, want := range []string{"Notification email", "ops@example.com", "Prevent accidental deletions", "On", "Accidental deletion threshold", "500"} {
		if !strings.Contains(dl, want) {
			t.Errorf("Basics pane lacks %q", want)
		}
	}
	if !strings.Contains(doc.Find("main").Text(), "1,204 users") {
		t.Errorf("object counts not formatted with separators")
	}

	// Every POST form carries the CSRF token.
	doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
		if v, _ := f.Find(`input[type="hidden"][name="_csrf"]`).Attr("value"); v != "tok" {
			t.Errorf("form %v: _csrf = %q", f.AttrOr("action", ""), v)
		}
	})
}

func TestConfigurationViewerHasNoChangeControls(t *testing.T) {
	doc, _ := render(t, Configuration(configPage(viewer)))
	for _, sel := range []string{`[aria-label="Edit Basics"]`, `[aria-label="Edit Scope"]`} {
		if doc.Find(sel).Length() != 0 {
			t.Errorf("viewer sees %s", sel)
		}
	}
	for _, text := range []string{"Allow deletes", "Restart sync", "Run sync now"} {
		if n := byText(doc, "a, button", text).Length(); n != 0 {
			t.Errorf("viewer sees %d %q controls", n, text)
		}
	}
	forms := doc.Find("form")
	if got, want := forms.Length(), 1; got != want {
		t.Fatalf("viewer forms = %d, want %d (Sign out only)", got, want)
	}
	if got := forms.AttrOr("action", ""); got != "/logout" {
		t.Errorf("viewer form action = %q, want /logout", got)
	}
	// Looking is still allowed.
	for _, text := range []string{"View provisioning log", "View agent", "Delete threshold exceeded"} {
		if byText(doc, "a", text).Length() == 0 {
			t.Errorf("viewer misses %q", text)
		}
	}
	// Even with a form model, a viewer gets no form.
	p := configPage(viewer)
	p.BasicsForm = &BasicsForm{Basics: p.Basics}
	p.ScopeForm = &OUBrowser{At: "DC=x", Self: OUItem{DN: "DC=x"}, Items: []OUItem{{DN: "OU=A,DC=x"}}}
	p.SourceForm = &SourceForm{URL: "ldap://dc1:389"}
	p.ScheduleForm = &ScheduleForm{Interval: "2m"}
	doc, _ = render(t, Configuration(p))
	if got := doc.Find("form").Length(); got != 1 {
		t.Errorf("viewer with form models: forms = %d, want 1", got)
	}
}

func TestBasicsFormKeepsValuesAndShowsErrors(t *testing.T) {
	p := configPage(admin)
	p.BasicsForm = &BasicsForm{
		Basics: Basics{Email: "not an address", Prevent: false, Threshold: "12abc"},
		Errors: map[string]string{"email": "Enter an email address like ops@example.com.", "threshold": "Enter a whole number from 1 to 1,000,000."},
	}
	doc, _ := render(t, Configuration(p))

	form := doc.Find(`form[action="/configurations/7/basics"]`)
	if form.Length() != 1 || form.AttrOr("method", "") != "post" {
		t.Fatal("no POST form to /configurations/7/basics")
	}
	if doc.Find(`[aria-label="Edit Basics"]`).Length() != 0 {
		t.Error("pencil shown while editing")
	}

	email := byLabel(t, doc, "Notification email")
	if got, want := email.AttrOr("value", ""), "not an address"; got != want {
		t.Errorf("email value = %q, want %q", got, want)
	}
	threshold := byLabel(t, doc, "Accidental deletion threshold")
	if got, want := threshold.AttrOr("value", ""), "12abc"; got != want {
		t.Errorf("threshold value = %q, want %q", got, want)
	}
	prevent := byLabel(t, doc, "Prevent accidental deletions")
	if prevent.AttrOr("type", "") != "checkbox" || prevent.AttrOr("value", "") != "on" {
		t.Errorf("prevent is not a checkbox with value on")
	}
	if _, checked := prevent.Attr("checked"); checked {
		t.Error("prevent checked, want unchecked as typed")
	}

	for _, c := range []struct {
		ctl  *goquery.Selection
		name string
		msg  string
	}{
		{email, "email", "Enter an email address like ops@example.com."},
		{threshold, "threshold", "Enter a whole number from 1 to 1,000,000."},
	} {
		if got := c.ctl.AttrOr("aria-invalid", ""); got != "true" {
			t.Errorf("%s aria-invalid = %q, want true", c.name, got)
		}
		var found bool
		for _, ref := range strings.Fields(c.ctl.AttrOr("aria-describedby", "")) {
			if strings.TrimSpace(doc.Find("#"+ref).Text()) == c.msg {
				found = true
				// The message sits by its field: in the same field wrapper.
				if doc.Find("#"+ref).Parent().Find("#"+c.ctl.AttrOr("id", "")).Length() != 1 {
					t.Errorf("%s message is not next to its field", c.name)
				}
			}
		}
		if !found {
			t.Errorf("%s: no aria-describedby element with %q", c.name, c.msg)
		}
	}
	if byText(doc, "button", "Save").Length() != 1 {
		t.Error("no Save button")
	}
	if got := byText(doc, "a", "Cancel").AttrOr("href", ""); got != "/configurations/7" {
		t.Errorf("Cancel href = %q", got)
	}

	// Without errors: no aria-invalid anywhere, checkbox checked.
	p.BasicsForm = &BasicsForm{Basics: Basics{Email: "a@b.c", Prevent: true, Threshold: "500"}}
	doc, _ = render(t, Configuration(p))
	if doc.Find(`[aria-invalid]`).Length() != 0 {
		t.Error("aria-invalid without errors")
	}
	if _, checked := byLabel(t, doc, "Prevent accidental deletions").Attr("checked"); !checked {
		t.Error("prevent unchecked, want checked")
	}
}

func TestScopeForm(t *testing.T) {
	p := configPage(admin)
	p.ScopeForm = &OUBrowser{
		Draft: "d1", At: "OU=Staff,DC=corp,DC=example", Page: 2, Pages: 3, Total: 250,
		Path: []OUItem{{DN: "DC=corp,DC=example", Name: "corp"}, {DN: "OU=Staff,DC=corp,DC=example", Name: "Staff"}},
		Self: OUItem{DN: "OU=Staff,DC=corp,DC=example", Name: "Staff", Checked: true},
		Items: []OUItem{
			{DN: "OU=Sales,OU=Staff,DC=corp,DC=example", Name: "Sales", Children: true},
			{DN: "OU=Leaf,OU=Staff,DC=corp,DC=example", Name: "Leaf"},
		},
		Selected: []SelectedOU{{DN: "OU=Staff,DC=corp,DC=example", Users: 1200, Groups: 4, Counted: true}},
		Users:    1200, Groups: 4,
	}
	p.ScopeErr = "Pick at least one OU."
	doc, _ := render(t, Configuration(p))
	form := doc.Find(`form[method="post"][action="/configurations/7/scope"]`)
	if form.Length() != 1 {
		t.Fatal("no scope form")
	}
	boxes := form.Find(`input[type="checkbox"][name="ou"]`)
	if got, want := boxes.Length(), 3; got != want {
		t.Fatalf("checkboxes = %d, want %d", got, want)
	}
	if got, want := form.Find(`input[type="hidden"][name="shown"]`).Length(), 3; got != want {
		t.Errorf("shown fields = %d, want %d: one per checkbox", got, want)
	}
	staff := byLabel(t, doc, "OU=Staff,DC=corp,DC=example")
	if _, ok := staff.Attr("checked"); !ok || staff.AttrOr("value", "") != "OU=Staff,DC=corp,DC=example" {
		t.Error("Staff OU not checked with its DN as value")
	}
	for _, sel := range []string{
		`button[name="browse"][value="OU=Sales,OU=Staff,DC=corp,DC=example"][aria-label="Open OU=Sales,OU=Staff,DC=corp,DC=example"]`,
		`button[name="browse"][value="DC=corp,DC=example"]`, // up
		`button[name="goto"][value="1"]`, `button[name="goto"][value="3"]`,
		`button[name="remove"][value="OU=Staff,DC=corp,DC=example"]`,
		`input[type="hidden"][name="draft"][value="d1"]`,
	} {
		if form.Find(sel).Length() != 1 {
			t.Errorf("no %s", sel)
		}
	}
	if form.Find(`button[aria-label="Open OU=Leaf,OU=Staff,DC=corp,DC=example"]`).Length() != 0 {
		t.Error("an OU without children can be opened")
	}
	for _, want := range []string{"Pick at least one OU.", "1,200 users and 4 groups in 1 OU.", "Page 2 of 3 (250 OUs)"} {
		if !strings.Contains(squashText(form.Text()), want) {
			t.Errorf("scope form lacks %q", want)
		}
	}
	if doc.Find(`[aria-label="Edit Scope"]`).Length() != 0 {
		t.Error("scope pencil shown while editing")
	}
}

func squashText(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestStatusWording(t *testing.T) {
	for _, c := range []struct {
		s        Status
		class    string
		wantText []string
	}{
		{Status{Code: "healthy", Text: "Healthy"}, "badge-ok", []string{"Healthy"}},
		{Status{Code: "error", Text: "Error", Error: "ldap: bind failed"}, "badge-danger", []string{"Error", "ldap: bind failed"}},
		{Status{Code: "not_run", Text: "Not run yet"}, "badge-muted", []string{"Not run yet"}},
		{Status{Code: "running", Text: "Running", Progress: &Progress{Read: 1204, Planned: 30, Applied: 2}}, "badge-info", []string{"Running", "read 1,204 · planned 30 · applied 2"}},
		{Status{Code: "quarantined", Text: "Delete threshold exceeded", InfoURL: "/configurations/1/status"}, "badge-danger", []string{"Delete threshold exceeded"}},
	} {
		doc, _ := render(t, statusBadge(c.s))
		if doc.Find("."+c.class).Length() != 1 {
			t.Errorf("%s: no .%s", c.s.Code, c.class)
		}
		for _, w := range c.wantText {
			if !strings.Contains(doc.Text(), w) {
				t.Errorf("%s: text %q missing in %q", c.s.Code, w, doc.Text())
			}
		}
	}
}

func TestEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	pages := map[string]templ.Component{
		"configurations": Configurations(ConfigurationsPage{
			Base: Base{Title: evil, User: admin, CSRF: "t", Flash: &Flash{Kind: "success", Text: evil}},
			Rows: []ConfigurationRow{{ID: 1, Name: evil, Source: evil, Status: Status{Code: "error", Error: evil}}},
		}),
		"configuration": func() templ.Component {
			p := configPage(admin)
			p.Name, p.BaseDN, p.Scope = evil, evil, []string{evil}
			p.Basics.Email = evil
			return Configuration(p)
		}(),
		"logs": Logs(LogsPage{
			Base: Base{User: admin}, ConfigID: 1, ConfigName: evil,
			Filter: LogFilter{Q: evil},
			Rows:   []LogRow{{ID: 1, Name: evil, DN: "CN=" + evil, URL: "/configurations/1/logs/1"}},
		}),
		"entry":  LogEntry(LogEntryPage{Base: Base{User: admin}, Entry: LogRow{Name: evil, DN: evil, Details: evil}}),
		"status": StatusInfo(StatusInfoPage{Base: Base{User: admin}, Quarantined: true, ConfigName: evil, ByOU: []Count{{Label: evil, N: 1}}, Sample: []StagedObject{{Name: evil, DN: evil}}}),
	}
	for name, c := range pages {
		doc, html := render(t, c)
		if got := doc.Find("script:not([src])").Length(); got != 0 {
			t.Errorf("%s: %d inline script elements", name, got)
		}
		if strings.Contains(html, evil) {
			t.Errorf("%s: unescaped %s in output", name, evil)
		}
		if !strings.Contains(doc.Find("main").Text(), evil) {
			t.Errorf("%s: text %q not shown as text", name, evil)
		}
	}
}

func TestConfirm(t *testing.T) {
	p := ConfirmPage{
		Base:     Base{Title: "Allow deletes", User: admin, CSRF: "tok"},
		ConfigID: 7, ConfigName: "corp", Kind: "allow",
		Question: "Allow 812 deletions from corp?",
		Explain:  "The 812 staged objects will be deleted from the target directory.",
		Action:   "/configurations/7/allow-deletes", QuarantineID: 42, Count: 812,
		CancelURL: "/configurations/7",
	}
	doc, _ := render(t, Confirm(p))
	if got := strings.TrimSpace(doc.Find("h1").Text()); got != p.Question {
		t.Errorf("h1 = %q, want %q", got, p.Question)
	}
	yes := byText(doc, "button", "Yes")
	if yes.Length() != 1 {
		t.Fatal("no Yes button")
	}
	yf := yes.Closest("form")
	if yf.AttrOr("method", "") != "post" || yf.AttrOr("action", "") != p.Action {
		t.Errorf("Yes form = %s %s", yf.AttrOr("method", ""), yf.AttrOr("action", ""))
	}
	for name, want := range map[string]string{"_csrf": "tok", "quarantine": "42", "count": "812"} {
		if got := yf.Find(`input[type="hidden"][name="`+name+`"]`).AttrOr("value", ""); got != want {
			t.Errorf("hidden %s = %q, want %q", name, got, want)
		}
	}
	if !yes.HasClass("btn-danger") {
		t.Error("allow Yes is not a danger button")
	}
	no := byText(doc, "button", "No")
	if no.Length() != 1 {
		t.Fatal("no No button")
	}
	nf := no.Closest("form")
	if nf.AttrOr("method", "") != "get" || nf.AttrOr("action", "") != "/configurations/7" {
		t.Errorf("No form = %s %s", nf.AttrOr("method", ""), nf.AttrOr("action", ""))
	}
	if _, ok := no.Attr("autofocus"); !ok {
		t.Error("No has no autofocus")
	}

	p.Nothing = "There are no staged deletions to allow."
	doc, _ = render(t, Confirm(p))
	if byText(doc, "button", "Yes").Length() != 0 {
		t.Error("Yes shown with nothing to confirm")
	}
	if !strings.Contains(doc.Text(), p.Nothing) || byText(doc, "a", "Back to corp").Length() != 1 {
		t.Error("nothing message or back link missing")
	}
}

func TestLogs(t *testing.T) {
	p := LogsPage{
		Base:     Base{User: viewer},
		ConfigID: 7, ConfigName: "corp",
		Filter: LogFilter{Action: "StagedDelete", Cycle: "x", Errors: map[string]string{"cycle": "Cycle must be a number."}},
		Rows: []LogRow{
			{ID: 9, Time: "2025-01-02 10:00:01", Cycle: 12, Action: "StagedDelete", Status: "Staged", Type: "user", Name: "Ann Lee", DN: "CN=Ann Lee,OU=Staff,DC=corp", URL: "/configurations/7/logs/9"},
		},
		NextURL: "/configurations/7/logs?before=9", FirstURL: "/configurations/7/logs", CSVURL: "/configurations/7/logs.csv",
	}
	doc, _ := render(t, Logs(p))
	form := doc.Find(`form[action="/configurations/7/logs"]`)
	if form.AttrOr("method", "") != "get" {
		t.Fatal("filter form is not GET")
	}
	action := byLabel(t, doc, "Action")
	if got := action.Find("option[selected]").AttrOr("value", ""); got != "StagedDelete" {
		t.Errorf("selected action = %q", got)
	}
	if got := action.Find("option").Length(); got != 8 { // Any and the seven actions: StagedUpdate, and Disable and Restore of the hold, among them
		t.Errorf("action options = %d, want 8", got)
	}
	byLabel(t, doc, "Status")
	byLabel(t, doc, "Type")
	if byLabel(t, doc, "From").AttrOr("type", "") != "date" || byLabel(t, doc, "To").AttrOr("type", "") != "date" {
		t.Error("from/to are not date inputs")
	}
	byLabel(t, doc, "Search name or DN")
	cycle := byLabel(t, doc, "Cycle")
	if cycle.AttrOr("value", "") != "x" || cycle.AttrOr("aria-invalid", "") != "true" {
		t.Error("cycle value/aria-invalid wrong")
	}
	if got := doc.Find("#" + cycle.AttrOr("aria-describedby", "none")).Text(); got != "Cycle must be a number." {
		t.Errorf("cycle message = %q", got)
	}
	if byText(doc, "button", "Filter").Length() != 1 || byText(doc, "a", "Clear").Length() != 1 {
		t.Error("Filter/Clear missing")
	}
	if got := doc.Find(`a[aria-label="Details for Ann Lee"]`).AttrOr("href", ""); got != "/configurations/7/logs/9" {
		t.Errorf("details link = %q", got)
	}
	for text, href := range map[string]string{"Next page": p.NextURL, "Newest": p.FirstURL, "Download CSV": p.CSVURL} {
		if got := byText(doc, "a", text).AttrOr("href", ""); got != href {
			t.Errorf("%s href = %q, want %q", text, got, href)
		}
	}

	p.Rows, p.NextURL = nil, ""
	doc, _ = render(t, Logs(p))
	if !strings.Contains(doc.Text(), "No entries match these filters.") {
		t.Error("empty state missing")
	}
	if byText(doc, "a", "Next page").Length() != 0 {
		t.Error("Next page shown without NextURL")
	}
}

func TestLoginAndLayout(t *testing.T) {
	doc, _ := render(t, Login(LoginPage{Base: Base{Title: "Sign in", CSRF: "tok", Flash: &Flash{Kind: "error", Text: "Signed out."}}, Next: "/configurations/7", Error: "Wrong username or password."}))
	if got := doc.Find("title").Text(); got != "Sign in · syncguard" {
		t.Errorf("title = %q", got)
	}
	if doc.Find(`html[lang="en"]`).Length() != 1 || doc.Find(`meta[name="viewport"]`).Length() != 1 {
		t.Error("lang or viewport missing")
	}
	if doc.Find(`a.skip-link[href="#main"]`).Length() != 1 || doc.Find("main#main").Length() != 1 {
		t.Error("skip link or main#main missing")
	}
	if doc.Find(`[role="alert"]`).Length() < 1 {
		t.Error("error flash is not role=alert")
	}
	if byText(doc, "a", "Audit log").Length() != 0 {
		t.Error("signed-out page shows the nav")
	}
	if byLabel(t, doc, "Username").AttrOr("name", "") != "username" || byLabel(t, doc, "Password").AttrOr("type", "") != "password" {
		t.Error("sign-in fields wrong")
	}
	f := doc.Find(`form[method="post"][action="/login"]`)
	if f.Find(`input[name="next"]`).AttrOr("value", "") != "/configurations/7" || f.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
		t.Error("hidden next/_csrf missing")
	}
	if byText(doc, "button", "Sign in").Length() != 1 {
		t.Error("no Sign in button")
	}

	doc, _ = render(t, Audit(AuditPage{Base: Base{Title: "Audit log", User: admin, CSRF: "tok", Nav: "audit", Flash: &Flash{Kind: "success", Text: "812 deletions accepted."}}}))
	if got := doc.Find(`a[aria-current="page"]`).Text(); got != "Audit log" {
		t.Errorf("current nav = %q", got)
	}
	if got := doc.Find(`[role="status"]`).Text(); !strings.Contains(got, "accepted") {
		t.Errorf("status flash = %q", got)
	}
	if got := strings.Join(strings.Fields(doc.Find(".site-user").Text()), " "); !strings.HasPrefix(got, "Signed in as alice") ||
		strings.Contains(got, "view only") {
		t.Errorf("header says %q, want Signed in as alice, no role for an admin", got)
	}
	if doc.Find(`header form[method="post"][action="/logout"] input[name="_csrf"]`).Length() != 1 {
		t.Error("Sign out form missing")
	}
}

// TestNoInlineCodeOrStyle checks the CSP rules on every page: no inline
// script or style, no event handler attributes, and every POST form has
// the CSRF token.
func TestNoInlineCodeOrStyle(t *testing.T) {
	base := Base{Title: "x", User: admin, CSRF: "tok", Flash: &Flash{Kind: "info", Text: "hi"}}
	cp := configPage(admin)
	cpForms := configPage(admin)
	cpForms.BasicsForm = &BasicsForm{Basics: cp.Basics, Errors: map[string]string{"email": "bad"}}
	cpRunning := configPage(admin)
	cpRunning.Status = Status{Code: "running", Progress: &Progress{Read: 1}}
	pages := map[string]templ.Component{
		"login":          Login(LoginPage{Base: Base{CSRF: "tok"}}),
		"configurations": Configurations(ConfigurationsPage{Base: base, Rows: []ConfigurationRow{{ID: 1, Name: "a"}}}),
		"configuration":  Configuration(cp),
		"config-forms":   Configuration(cpForms),
		"config-running": Configuration(cpRunning),
		"status":         StatusInfo(StatusInfoPage{Base: base, Quarantined: true, Staged: 812, Threshold: 500}),
		"status-ok":      StatusInfo(StatusInfoPage{Base: base, LastCycle: &Cycle{ID: 1, Outcome: "Succeeded"}}),
		"confirm":        Confirm(ConfirmPage{Base: base, Action: "/configurations/1/restart", Kind: "restart"}),
		"logs":           Logs(LogsPage{Base: base, Rows: []LogRow{{ID: 1}}}),
		"entry":          LogEntry(LogEntryPage{Base: base}),
		"agent":          Agent(AgentPage{Base: base, Status: "Active", Configurations: []AgentConfig{{ID: 1, Name: "a"}}}),
		"audit":          Audit(AuditPage{Base: base, Rows: []AuditRow{{Actor: "a"}}, NextURL: "/audit?before=1"}),
		"outbox":         Outbox(OutboxPage{Base: base, Rows: []OutboxRow{{ID: 1, Status: "failed", LastError: "dial tcp: refused"}}}),
		"error":          Error(ErrorPage{Base: base, Code: 404, Title: "Not found"}),
	}
	for name, c := range pages {
		doc, _ := render(t, c)
		doc.Find("*").Each(func(_ int, s *goquery.Selection) {
			for _, a := range s.Nodes[0].Attr {
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("%s: <%s %s=…>", name, goquery.NodeName(s), a.Key)
				}
			}
		})
		if n := doc.Find("style").Length(); n != 0 {
			t.Errorf("%s: %d <style> elements", name, n)
		}
		scripts := doc.Find("script")
		if scripts.Length() != 1 || scripts.AttrOr("src", "") != "/static/app.js" {
			t.Errorf("%s: scripts other than /static/app.js", name)
		}
		doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
			if f.Find(`input[type="hidden"][name="_csrf"]`).AttrOr("value", "") != "tok" {
				t.Errorf("%s: POST form %q without _csrf", name, f.AttrOr("action", ""))
			}
		})
		if doc.Find(`link[rel="stylesheet"][href="/static/style.css"]`).Length() != 1 {
			t.Errorf("%s: stylesheet link missing", name)
		}
	}
}

func TestOutboxFailedInRed(t *testing.T) {
	doc, _ := render(t, Outbox(OutboxPage{Base: Base{User: viewer}, Rows: []OutboxRow{{ID: 1, Status: "failed", Attempts: 31, LastError: "dial tcp 127.0.0.1:25: connection refused"}}}))
	if got := doc.Find(".badge-danger").Text(); got != "failed" {
		t.Errorf("failed badge = %q", got)
	}
	if got := doc.Find(".status-error").Text(); !strings.Contains(got, "connection refused") {
		t.Errorf("last error = %q", got)
	}
}

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 812: "812", 1204: "1,204", 12000: "12,000", 999999: "999,999", 1000000: "1,000,000", -1234: "-1,234", -12: "-12"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
	if got, want := numString("1000"), "1,000"; got != want {
		t.Errorf("numString(1000) = %q, want %q", got, want)
	}
	if got, want := numString("12abc"), "12abc"; got != want {
		t.Errorf("numString(12abc) = %q, want %q", got, want)
	}
}
