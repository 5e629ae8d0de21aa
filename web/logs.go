package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

var (
	logActions  = store.LogActions
	logStatuses = store.LogStatuses
	logTypes    = []string{"user", "group"}
)

const logPageSize = 50

// parseLogFilter reads the log filters from the query. Each bad value gets
// a message by its field; the query then selects nothing.
func parseLogFilter(q url.Values, configID int64) (store.LogQuery, views.LogFilter, bool) {
	f := views.LogFilter{Action: q.Get("action"), Status: q.Get("status"), Type: q.Get("type"), Cycle: q.Get("cycle"),
		From: q.Get("from"), To: q.Get("to"), Q: q.Get("q")}
	errs := map[string]string{}
	lq := store.LogQuery{ConfigID: configID, Limit: logPageSize}
	pick := func(field, v string, allowed []string) string {
		if v == "" {
			return ""
		}
		for _, a := range allowed {
			if strings.EqualFold(a, v) {
				return a
			}
		}
		errs[field] = "Choose one of " + strings.Join(allowed, ", ") + "."
		return ""
	}
	lq.Action = pick("action", f.Action, logActions)
	lq.Status = pick("status", f.Status, logStatuses)
	lq.Type = pick("type", f.Type, logTypes)
	if f.Cycle != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(f.Cycle), 10, 64)
		if err != nil || n <= 0 {
			errs["cycle"] = "A cycle is a positive whole number, such as 12."
		}
		lq.Cycle = n
	}
	date := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(v), time.Local)
		if err != nil {
			errs[field] = "Use a date like 2026-01-31."
		}
		return t
	}
	lq.From = date("from", f.From)
	if to := date("to", f.To); !to.IsZero() {
		lq.To = to.AddDate(0, 0, 1) // the "to" day is included
	}
	if !lq.From.IsZero() && !lq.To.IsZero() && !lq.From.Before(lq.To) {
		errs["to"] = "The end date is before the start date."
	}
	if len(f.Q) > 200 {
		errs["q"] = "Search for at most 200 characters."
	} else if store.CheckSearchText(f.Q) != nil {
		errs["q"] = "Search for text you can type: no control characters."
	}
	lq.Text = strings.TrimSpace(f.Q)
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			errs["before"] = "This page link is broken; start from the newest entries."
		}
		lq.Before = n
	}
	if len(errs) > 0 {
		f.Errors = errs
		return lq, f, false
	}
	return lq, f, true
}

// filterQuery is the query string of the filters, without paging.
func filterQuery(f views.LogFilter) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"action": f.Action, "status": f.Status, "type": f.Type, "cycle": f.Cycle,
		"from": f.From, "to": f.To, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// logRow is an entry as the log shows it; its page link carries the
// list's filters and page (back), so that its Back link returns there.
func logRow(configID int64, e *store.LogEntry, back url.Values) views.LogRow {
	u := views.ConfigURL(configID, "/logs/"+strconv.FormatInt(e.ID, 10))
	if len(back) > 0 {
		u += "?" + back.Encode()
	}
	return views.LogRow{ID: e.ID, Time: formatTime(e.Time), Cycle: e.CycleID, Action: e.Action, Status: e.Status, Type: e.Type,
		Name: e.Name, DN: e.DN, Anchor: e.Anchor, Details: e.Details, Cause: string(e.Cause), Fate: e.Fate, URL: u}
}

func (s *Server) logs(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	lq, f, ok := parseLogFilter(c.QueryParams(), cfg.ID)
	p := views.LogsPage{Base: s.base(c, "Provisioning log · "+cfg.Name, "configurations"), ConfigID: cfg.ID, ConfigName: cfg.Name,
		Filter: f, Actions: logActions, Statuses: logStatuses, Types: logTypes}
	if !ok {
		// A broken paging link has no field to show its message by.
		if msg := f.Errors["before"]; msg != "" && p.Base.Flash == nil {
			p.Base.Flash = &views.Flash{Kind: "error", Text: msg}
		}
		return render(c, http.StatusUnprocessableEntity, views.Logs(p))
	}
	entries, err := s.store.Logs(c.Request().Context(), lq)
	if err != nil {
		return err
	}
	fq := filterQuery(f)
	here := filterQuery(f)
	if lq.Before > 0 {
		here.Set("before", strconv.FormatInt(lq.Before, 10))
	}
	for i := range entries {
		p.Rows = append(p.Rows, logRow(cfg.ID, &entries[i], here))
	}
	base := views.ConfigURL(cfg.ID, "/logs")
	if len(entries) == logPageSize {
		next := filterQuery(f)
		next.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
		p.NextURL = base + "?" + next.Encode()
	}
	if lq.Before > 0 {
		p.FirstURL = withQuery(base, fq)
	}
	p.CSVURL = withQuery(views.ConfigURL(cfg.ID, "/logs.csv"), fq)
	return render(c, http.StatusOK, views.Logs(p))
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func (s *Server) logEntry(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("entry"), 10, 64)
	if err != nil {
		return notFound("This log entry")
	}
	e, err := s.store.LogEntry(c.Request().Context(), cfg.ID, id)
	if isNotFound(err) {
		return notFound("This log entry")
	}
	if err != nil {
		return err
	}
	// Back to the list as it was: its filters and page, read as the list
	// reads them (a bad value is dropped, never echoed into the link).
	back := views.ConfigURL(cfg.ID, "/logs")
	if lq, f, ok := parseLogFilter(c.QueryParams(), cfg.ID); ok {
		q := filterQuery(f)
		if lq.Before > 0 {
			q.Set("before", strconv.FormatInt(lq.Before, 10))
		}
		back = withQuery(back, q)
	}
	return render(c, http.StatusOK, views.LogEntry(views.LogEntryPage{Base: s.base(c, e.Action+" "+e.Name, "configurations"),
		ConfigID: cfg.ID, ConfigName: cfg.Name, Entry: logRow(cfg.ID, e, nil), BackURL: back}))
}

// csvCell keeps a spreadsheet from reading directory text as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// logsCSV exports the filtered log, newest first, streaming page by page.
func (s *Server) logsCSV(c echo.Context) error {
	cfg, err := s.configParam(c)
	if err != nil {
		return err
	}
	lq, f, ok := parseLogFilter(c.QueryParams(), cfg.ID)
	if !ok {
		var msgs []string
		for _, m := range f.Errors {
			msgs = append(msgs, m)
		}
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Bad filter: "+strings.Join(msgs, " "))
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="provisioning-log-`+strconv.FormatInt(cfg.ID, 10)+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	w.Write([]string{"id", "time", "cycle", "action", "status", "type", "name", "dn", "anchor", "details", "cause", "fate"})
	lq.Limit = 1000
	for written := 0; written < 1_000_000; {
		entries, err := s.store.Logs(c.Request().Context(), lq)
		if err != nil {
			s.log.Error("csv export", "err", err)
			break
		}
		for _, e := range entries {
			w.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339), strconv.FormatInt(e.CycleID, 10),
				e.Action, e.Status, e.Type, csvCell(e.Name), csvCell(e.DN), csvCell(e.Anchor), csvCell(e.Details), string(e.Cause), e.Fate})
		}
		written += len(entries)
		if len(entries) < lq.Limit {
			break
		}
		lq.Before = entries[len(entries)-1].ID
		w.Flush()
	}
	w.Flush()
	return w.Error()
}
