package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/sessions"

	"github.com/syncguard/syncguard/store"
)

// Sessions live in the database (store.Session): the session cookie
// carries only a random id, the database only its hash. Signing out, a
// password change, a role change and a removal delete them; they end after
// store.SessionIdle unused and store.SessionLifetime after sign-in.
//
// A signed-out browser has a pre-sign-in cookie instead: a random id, kept
// nowhere, to which the sign-in form's CSRF token is bound by a MAC, so
// that the sign-in form is protected without writing anything for
// visitors. Signing in always makes a new id (no fixation).
//
// Under TLS every cookie name carries the __Host- prefix: the browser then
// takes it only Secure, for the whole site and from this host alone, so no
// other host of the domain can set or shadow it.

// Cookie names, before the __Host- prefix.
const (
	sessionCookie = "syncguard_session" // signed in: the id of a server-side session
	preCookie     = "syncguard_pre"     // signed out: what the sign-in form's token is bound to
	flashCookie   = "syncguard_flash"   // a message for the next page, bound to the session
)

// Keys of a sessions.Session's Values.
const (
	valUserID  = "user_id"  // int64: the signed-in user
	valCSRF    = "csrf"     // string: the token every form carries
	valAddress = "address"  // string: where a sign-in comes from
	valAgent   = "agent"    // string: its User-Agent
	valSetPre  = "set_pre"  // bool: the pre-sign-in cookie is to be set
	valFlashIn = "flash_in" // bool: the request brought a flash cookie
	flashesKey = "_flash"   // gorilla's key of AddFlash
)

// dbSessions is the sessions.Store of the portal.
type dbSessions struct {
	st     *store.Store
	secure bool
	mac    []byte // key of the pre-sign-in tokens and flash cookies
}

func newDBSessions(st *store.Store, secure bool) *dbSessions {
	return &dbSessions{st: st, secure: secure, mac: st.DeriveKey("portal cookies")}
}

func (d *dbSessions) name(base string) string {
	if d.secure {
		return "__Host-" + base
	}
	return base
}

// Get returns the request's session, loaded once per request.
func (d *dbSessions) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(d, name)
}

// New loads the session the request's cookie names. A cookie naming no
// live session (ended, expired, made up) is a signed-out session, not an
// error; only a database failure is.
func (d *dbSessions) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(d, name)
	sess.Options = d.cookie(0)
	sess.IsNew = true
	if c, err := r.Cookie(d.name(sessionCookie)); err == nil && validID(c.Value) {
		row, err := d.st.Session(r.Context(), c.Value)
		switch {
		case err == nil:
			sess.ID, sess.IsNew = c.Value, false
			sess.Values[valUserID], sess.Values[valCSRF] = row.UserID, row.CSRFToken
		case !errors.Is(err, store.ErrNotFound):
			return sess, err
		}
	}
	if sess.IsNew {
		if c, err := r.Cookie(d.name(preCookie)); err == nil && validID(c.Value) {
			sess.ID = c.Value
		} else {
			sess.ID, sess.Values[valSetPre] = newID(), true
		}
		sess.Values[valCSRF] = d.sign("sign-in form", sess.ID)
	}
	if c, err := r.Cookie(d.name(flashCookie)); err == nil {
		sess.Values[valFlashIn] = true
		if msg, ok := d.openFlash(c.Value, sess.ID); ok {
			sess.AddFlash(msg)
		}
	}
	return sess, nil
}

// Save writes what changed: a sign-in (a new server-side session and its
// cookie), a sign-out (MaxAge < 0: the session deleted, its cookies
// expired), the pre-sign-in cookie, a flash message.
func (d *dbSessions) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if !sess.IsNew {
			if err := d.st.DeleteSession(r.Context(), sess.ID); err != nil {
				return err
			}
		}
		d.set(w, sessionCookie, "", -1)
		d.set(w, flashCookie, "", -1)
		return nil
	}
	uid, _ := sess.Values[valUserID].(int64)
	switch {
	case sess.IsNew && uid != 0:
		row := &store.Session{UserID: uid, CSRFToken: newID()}
		row.Address, _ = sess.Values[valAddress].(string)
		row.UserAgent, _ = sess.Values[valAgent].(string)
		sess.ID = newID()
		if err := d.st.CreateSession(r.Context(), sess.ID, row); err != nil {
			return err
		}
		sess.IsNew, sess.Values[valCSRF] = false, row.CSRFToken
		d.set(w, sessionCookie, sess.ID, int(store.SessionLifetime.Seconds()))
		d.set(w, preCookie, "", -1)
	case sess.IsNew && sess.Values[valSetPre] == true:
		delete(sess.Values, valSetPre)
		d.set(w, preCookie, sess.ID, int(store.SessionIdle.Seconds()))
	}
	if fl, _ := sess.Values[flashesKey].([]any); len(fl) > 0 {
		msg, _ := fl[0].(string)
		d.set(w, flashCookie, d.sealFlash(msg, sess.ID), 120)
	} else if sess.Values[valFlashIn] == true {
		d.set(w, flashCookie, "", -1)
	}
	delete(sess.Values, valFlashIn)
	return nil
}

func (d *dbSessions) cookie(maxAge int) *sessions.Options {
	return &sessions.Options{Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode}
}

func (d *dbSessions) set(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, sessions.NewCookie(d.name(base), value, d.cookie(maxAge)))
}

// sign is a MAC of value for purpose, in the cookie alphabet.
func (d *dbSessions) sign(purpose, value string) string {
	m := hmac.New(sha256.New, d.mac)
	m.Write([]byte(purpose + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sealFlash binds a flash message to the session it is for: a cookie
// planted by someone else shows nothing.
func (d *dbSessions) sealFlash(msg, sessionID string) string {
	b := base64.RawURLEncoding.EncodeToString([]byte(msg))
	return b + "." + d.sign("flash", sessionID+"\x00"+b)
}

func (d *dbSessions) openFlash(v, sessionID string) (string, bool) {
	b, mac, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(d.sign("flash", sessionID+"\x00"+b))) {
		return "", false
	}
	msg, err := base64.RawURLEncoding.DecodeString(b)
	return string(msg), err == nil
}

// newID is a random session id or token: 256 bits.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validID reports whether a cookie value has the shape newID gives.
func validID(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
