package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/views"
)

// AgentActiveWithin is how recent a heartbeat must be for an agent to be Active.
const AgentActiveWithin = 5 * time.Minute

func (s *Server) agent(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return notFound("This agent")
	}
	a, err := s.store.Agent(ctx, id)
	if isNotFound(err) {
		return notFound("This agent")
	}
	if err != nil {
		return err
	}
	p := views.AgentPage{Base: s.base(c, "Agent "+a.Name, "configurations"), ID: a.ID, Name: a.Name, Host: a.Host,
		Version: a.Version, LastHeartbeat: formatTime(a.LastHeartbeat), Started: formatTime(a.StartedAt), Status: "Inactive"}
	if s.store.Now().Sub(a.LastHeartbeat) < AgentActiveWithin {
		p.Status = "Active"
	}
	cfgs, err := s.store.Configurations(ctx)
	if err != nil {
		return err
	}
	for _, cfg := range cfgs {
		if cfg.AgentID == a.ID {
			p.Configurations = append(p.Configurations, views.AgentConfig{ID: cfg.ID, Name: cfg.Name})
		}
	}
	return render(c, http.StatusOK, views.Agent(p))
}

func (s *Server) audit(c echo.Context) error {
	var before int64
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "This page link is broken; start from the newest events.")
		}
		before = n
	}
	const size = 100
	events, err := s.store.AuditEvents(c.Request().Context(), before, size)
	if err != nil {
		return err
	}
	p := views.AuditPage{Base: s.base(c, "Audit log", "audit")}
	for _, e := range events {
		p.Rows = append(p.Rows, views.AuditRow{Time: formatTime(e.Time), Actor: e.Actor, Action: e.Action, Configuration: e.ConfigName, Details: e.Details})
	}
	if len(events) == size {
		p.NextURL = "/audit?before=" + strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	return render(c, http.StatusOK, views.Audit(p))
}

func (s *Server) outbox(c echo.Context) error {
	ns, err := s.store.Notifications(c.Request().Context(), 200)
	if err != nil {
		return err
	}
	p := views.OutboxPage{Base: s.base(c, "Notification outbox", "outbox")}
	for _, n := range ns {
		row := views.OutboxRow{ID: n.ID, To: n.To, Subject: n.Subject, Status: n.Status, Attempts: n.Attempts, LastError: n.LastError,
			Created: formatTime(n.CreatedAt), Sent: formatTime(n.SentAt)}
		if n.Status == "pending" {
			row.NextAttempt = formatTime(n.NextAttemptAt)
		}
		p.Rows = append(p.Rows, row)
	}
	return render(c, http.StatusOK, views.Outbox(p))
}
