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
