package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/views"
)

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
