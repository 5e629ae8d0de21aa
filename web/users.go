package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// The Users page: admins add users, change roles, reset passwords and
// remove users. Every change is audited and signs the user out everywhere
// (store.SetRole, SetPassword, RemoveUser); the last admin stays.

func (s *Server) users(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := s.store.Users(ctx)
	if err != nil {
		return err
	}
	admins := 0
	for _, u := range list {
		if u.Role == store.RoleAdmin {
			admins++
		}
	}
	p := views.UsersPage{Base: s.base(c, "Users", "users")}
	me := currentUser(c)
	for _, u := range list {
		p.Rows = append(p.Rows, views.UserRow{ID: u.ID, Name: u.Name, Role: u.Role, Created: formatTime(u.CreatedAt),
			LastSignIn: formatTime(u.LastSignInAt), Self: u.ID == me.ID, LastAdmin: u.Role == store.RoleAdmin && admins == 1})
	}
	return render(c, http.StatusOK, views.Users(p))
}

func (s *Server) newUser(c echo.Context) error {
	return render(c, http.StatusOK, views.AddUser(views.UserForm{Base: s.base(c, "Add user", "users"), Role: store.RoleViewer}))
}

// newPassword checks a new password typed twice; errs gets a message by
// the field ("password", "repeat").
func newPassword(c echo.Context, errs map[string]string) string {
	next, repeat := c.Request().PostFormValue("new_password"), c.Request().PostFormValue("repeat_password")
	hash, err := guard.HashPassword(next)
	switch {
	case err != nil:
		errs["password"] = capitalize(store.ErrorMessage(err)) + "."
	case repeat != next:
		errs["repeat"] = "The two passwords are not the same."
	}
	return hash
}

func (s *Server) addUser(c echo.Context) error {
	f := views.UserForm{Base: s.base(c, "Add user", "users"), Name: c.FormValue("name"), Role: c.FormValue("role"), Errors: map[string]string{}}
	name, err := guard.ParseUserName(f.Name)
	if err != nil {
		f.Errors["name"] = capitalize(store.ErrorMessage(err)) + "."
	}
	role, err := guard.ParseRole(f.Role)
	if err != nil {
		f.Errors["role"] = capitalize(store.ErrorMessage(err)) + "."
	}
	hash := newPassword(c, f.Errors)
	if len(f.Errors) == 0 {
		err = s.store.AddUser(c.Request().Context(), &store.User{Name: name, PasswordHash: hash, Role: role}, currentUser(c).Name)
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return err
			}
			return s.redirectFlash(c, "/users", "success", "Added "+role+" "+name+". Tell "+name+" the password; "+name+" can change it with Change password.")
		}
		f.Errors["name"] = "A user named " + name + " already exists."
	}
	return render(c, http.StatusUnprocessableEntity, views.AddUser(f))
}

// userParam loads the user named by the :id parameter.
func (s *Server) userParam(c echo.Context) (*store.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, notFound("This user")
	}
	u, err := s.store.UserByID(c.Request().Context(), id)
	if isNotFound(err) {
		return nil, notFound("This user")
	}
	return u, err
}

// afterUserChange goes where the change leaves the admin: signed out when
// it was their own account (its sessions ended), else back to Users.
func (s *Server) afterUserChange(c echo.Context, u *store.User, msg string) error {
	if u.ID == currentUser(c).ID {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return s.redirectFlash(c, "/users", "success", msg)
}

// refused words the store's refusal (the last admin) on the Users page.
func (s *Server) refused(c echo.Context, err error) error {
	if store.ErrorCode(err) == store.Conflict {
		return s.redirectFlash(c, "/users", "error", store.ErrorMessage(err))
	}
	return err
}

func (s *Server) setRole(c echo.Context) error {
	u, err := s.userParam(c)
	if err != nil {
		return err
	}
	role, err := guard.ParseRole(c.FormValue("role"))
	if err != nil {
		return s.redirectFlash(c, "/users", "error", capitalize(store.ErrorMessage(err))+".")
	}
	if role == u.Role {
		return s.redirectFlash(c, "/users", "info", u.Name+" is already "+role+".")
	}
	if err := s.store.SetRole(c.Request().Context(), u.ID, role, currentUser(c).Name); err != nil {
		return s.refused(c, err)
	}
	return s.afterUserChange(c, u, u.Name+" is now "+role+", and was signed out everywhere.")
}

func (s *Server) resetPasswordPage(c echo.Context) error {
	u, err := s.userParam(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ResetPassword(views.UserForm{Base: s.base(c, "Reset password", "users"), ID: u.ID, Name: u.Name}))
}

func (s *Server) resetPassword(c echo.Context) error {
	u, err := s.userParam(c)
	if err != nil {
		return err
	}
	f := views.UserForm{Base: s.base(c, "Reset password", "users"), ID: u.ID, Name: u.Name, Errors: map[string]string{}}
	hash := newPassword(c, f.Errors)
	if len(f.Errors) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.ResetPassword(f))
	}
	if err := s.store.SetPassword(c.Request().Context(), u.ID, hash, currentUser(c).Name); err != nil {
		return err
	}
	return s.afterUserChange(c, u, "The password of "+u.Name+" was reset, and "+u.Name+" was signed out everywhere.")
}

func (s *Server) confirmRemoveUser(c echo.Context) error {
	u, err := s.userParam(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.RemoveUser(views.RemoveUserPage{Base: s.base(c, "Remove "+u.Name, "users"),
		ID: u.ID, Name: u.Name, Role: u.Role, Self: u.ID == currentUser(c).ID}))
}

func (s *Server) removeUser(c echo.Context) error {
	u, err := s.userParam(c)
	if err != nil {
		return err
	}
	if err := s.store.RemoveUser(c.Request().Context(), u.ID, currentUser(c).Name); err != nil {
		return s.refused(c, err)
	}
	return s.afterUserChange(c, u, "Removed "+u.Role+" "+u.Name+".")
}
