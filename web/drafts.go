package web

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncguard/syncguard/guard"
	"github.com/syncguard/syncguard/store"
	"github.com/syncguard/syncguard/views"
)

// A draft is a configuration being made (New configuration) or changed
// (Edit Source, Edit Scope, Edit Target) over several requests. It lives
// in this process's memory and nowhere else: a password or token typed on
// one step is kept for the next without ever going back into a page (no
// value attribute, no hidden field), and nothing reaches the database
// before the last step saves. A draft belongs to the session that made it (another
// session, or the same browser after signing in again, cannot open it) and
// is forgotten after draftIdle without use; restarting syncguard forgets
// them all (the admin starts the form again).
type draft struct {
	ID       string
	owner    string // the hash of the session it belongs to
	ConfigID int64  // the configuration changed; 0 for a new one
	Config   store.Configuration
	// Counts caches the users and groups below each ticked OU, by
	// normalized DN: counting a big OU reads all of it.
	Counts map[string]guard.Counts
	// Basics and Interval are New configuration's last step as typed, kept
	// when the admin goes back a step.
	Basics   *views.Basics
	Interval string
	// Target is the target as typed (Edit Target, New configuration's
	// Target step), with the secrets typed so far; TargetOK, that these
	// settings were checked and the target answered (or they are none);
	// TargetFrom, Edit Target's, the destination saved when it began.
	Target     *guard.TargetSettings
	TargetOK   bool
	TargetFrom string
	used       time.Time
}

// clone is a copy of d that shares nothing it can change.
func (d *draft) clone() *draft {
	c := *d
	c.Config.Scope = slices.Clone(d.Config.Scope)
	c.Counts = maps.Clone(d.Counts)
	if d.Basics != nil {
		b := *d.Basics
		c.Basics = &b
	}
	if d.Target != nil {
		t := *d.Target
		c.Target = &t
	}
	return &c
}

const (
	draftIdle     = 2 * time.Hour
	draftsPerUser = 20 // the oldest goes when a session opens more
)

// drafts holds the drafts of every session.
type drafts struct {
	mu  sync.Mutex
	m   map[string]*draft
	now func() time.Time
}

func newDrafts(now func() time.Time) *drafts { return &drafts{m: map[string]*draft{}, now: now} }

// save stores d (a new one gets an ID), for the session of c.
func (ds *drafts) save(c echo.Context, s *Server, d *draft) {
	owner := store.HashSessionID(s.session(c).ID)
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := ds.now()
	var oldest *draft
	n := 0
	for id, x := range ds.m {
		switch {
		case now.Sub(x.used) > draftIdle:
			delete(ds.m, id)
		case x.owner == owner && x.ID != d.ID:
			n++
			if oldest == nil || x.used.Before(oldest.used) {
				oldest = x
			}
		}
	}
	if n >= draftsPerUser && oldest != nil {
		delete(ds.m, oldest.ID)
	}
	if d.ID == "" {
		d.ID = newID()
	}
	d.owner, d.used = owner, now
	if d.Counts == nil {
		d.Counts = map[string]guard.Counts{}
	}
	ds.m[d.ID] = d.clone()
}

// get returns a copy of the session's draft with id, or false when there
// is none (never made, another session's, forgotten).
func (ds *drafts) get(c echo.Context, s *Server, id string) (*draft, bool) {
	owner := store.HashSessionID(s.session(c).ID)
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d, ok := ds.m[id]
	if !ok || d.owner != owner || ds.now().Sub(d.used) > draftIdle {
		return nil, false
	}
	d.used = ds.now()
	return d.clone(), true
}

// drop forgets a draft.
func (ds *drafts) drop(id string) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	delete(ds.m, id)
}
