package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/views"
)

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
