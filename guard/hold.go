package guard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/syncguard/syncguard/store"
)

// The hold before deletions become final (SPEC section 10), as the guard
// sees it:
//
//   - With a hold, every deletion syncguard applies — under the limits
//     (appliedChanges) or allowed by an admin (store.AllowDeletes) — holds
//     the object instead: it leaves the target directory copy, keeps its
//     attributes and the groups that named it, and is disabled in the
//     target (SCIM users active=false, SCIM groups without members, LDAP
//     objects moved under ou=syncguard-held).
//   - Restore puts held objects back as they were; a cycle that finds one
//     in the source again restores it too (never a second object in the
//     target). Nothing else changes for the guard: a restored object the
//     source still lacks is a deletion again in the next cycle, counted
//     against the limits like any other.
//   - The Purger deletes held objects for good when their hold ends.

// RestoreSelection says which held objects Restore puts back: all of
// them, those that were at or below an OU, or chosen ones — exactly one.
type RestoreSelection struct {
	All     bool
	OU      string
	Anchors []string
	// UpTo, when set, leaves out the objects held after the admin looked
	// (store.HeldSummary.Newest): "all" is what they saw.
	UpTo int64
}

// SelectHeld is the store's query of the held objects sel names. An OU
// takes the OUs the held objects were in that are at or below it; one
// that holds nothing, or a selection naming none or more than one way,
// is Invalid.
func SelectHeld(ctx context.Context, st *store.Store, configID int64, sel RestoreSelection) (store.HeldQuery, error) {
	q := store.HeldQuery{ConfigID: configID, UpTo: sel.UpTo}
	ways := 0
	for _, set := range []bool{sel.All, sel.OU != "", len(sel.Anchors) > 0} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return q, invalid("say which deleted objects to restore: all of them, those of an OU, or chosen ones")
	}
	q.Anchors = sel.Anchors
	if sel.OU != "" {
		ous, err := HeldOUsUnder(ctx, st, configID, sel.OU)
		if err != nil {
			return q, err
		}
		if len(ous) == 0 {
			return q, invalid("no deleted object of %s is held at or below %s", configName(ctx, st, configID), sel.OU)
		}
		q.OUs = ous
	}
	return q, nil
}

// HeldOUsUnder returns the OUs the held objects of a configuration were in
// that are at or below ou (as the store spells them). A DN that does not
// parse is Invalid.
func HeldOUsUnder(ctx context.Context, st *store.Store, configID int64, ou string) ([]string, error) {
	under, err := NormalizeDN(ou)
	if err != nil || under == "" {
		return nil, invalid("%q is not a DN", ou)
	}
	counts, err := st.HeldOUs(ctx, configID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range counts {
		if n, err := NormalizeDN(c.Label); err == nil && InScope(n, []string{under}) {
			out = append(out, c.Label)
		}
	}
	return out, nil
}

func configName(ctx context.Context, st *store.Store, configID int64) string {
	if cfg, err := st.Configuration(ctx, configID); err == nil {
		return cfg.Name
	}
	return fmt.Sprintf("configuration %d", configID)
}

// Restore puts back the held objects sel names, for actor (see
// store.RestoreHeld); with a target, their exports follow at once.
// Objects no longer held (purged, or restored from another tab) are left
// out: restoring twice restores once.
func (e *Engine) Restore(ctx context.Context, configID int64, sel RestoreSelection, actor string) (store.Restored, error) {
	q, err := SelectHeld(ctx, e.Store, configID, sel)
	if err != nil {
		return store.Restored{}, err
	}
	res, err := e.Store.RestoreHeld(ctx, store.HeldRestore{HeldQuery: q, Actor: actor})
	if err != nil {
		return res, err
	}
	if res.Objects > 0 {
		e.queued(configID)
		e.log().Info("restored held objects", "config", configID, "objects", res.Objects, "groups", res.Groups, "by", actor)
	}
	return res, nil
}

// DeletedURL is the Deleted objects page of a configuration.
func (e *Engine) DeletedURL(configID int64) string {
	return strings.TrimSuffix(e.StatusURL(configID), "/status") + "/deleted"
}

// holdNotice is what the quarantine mail says of the hold, if there is
// one: allowed deletions are held, until when, and where to restore them.
func (e *Engine) holdNotice(cfg *store.Configuration) string {
	h := store.Hold{Since: e.Store.Now(), For: cfg.Basics.Hold}
	if !h.On() {
		return ""
	}
	return fmt.Sprintf("Deletions you allow are not final at once: each object is disabled and held for %s "+
		"(held until %s if you allow them now), and can be restored until then from Deleted objects:\n%s\n\n",
		store.HoldText(h.For), h.Until().UTC().Format("2006-01-02 15:04 UTC"), e.DeletedURL(cfg.ID))
}

// Purger deletes held objects for good when their hold ends, in bounded
// batches (one transaction each, so that a purge stopped midway leaves
// each object held or purged), and wakes the exporter for the deletes it
// queued. Held objects live in the database: a purge due while syncguard
// was stopped happens when it starts again.
type Purger struct {
	Store *store.Store
	Log   *slog.Logger
	// Batch is how many objects one transaction purges; 0 → 500.
	Batch int
	// Queued, when set, is told of each configuration whose objects were
	// purged (it may have exports to send).
	Queued func(configID int64)
}

// Purge purges every held object whose hold has ended by the store's
// clock — of one configuration, or of all with configID 0 — and returns
// how many it purged.
func (p *Purger) Purge(ctx context.Context, configID int64) (int, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = 500
	}
	total := 0
	for ctx.Err() == nil {
		res, err := p.Store.PurgeHeld(ctx, configID, p.Store.Now(), batch)
		if err != nil {
			return total, err
		}
		total += res.Objects
		for _, id := range res.Configs {
			if p.Queued != nil {
				p.Queued(id)
			}
		}
		if res.Objects < batch {
			break
		}
	}
	if total > 0 && p.Log != nil {
		p.Log.Info("purged held objects: their hold ended", "objects", total)
	}
	return total, ctx.Err()
}

// Run purges what is due at once, then whenever the next hold ends, and
// at least every poll (objects held by other processes), until ctx ends.
func (p *Purger) Run(ctx context.Context, poll time.Duration) {
	for {
		_, err := p.Purge(ctx, 0)
		if err != nil && ctx.Err() == nil && p.Log != nil {
			p.Log.Error("purge held objects", "err", err)
		}
		wait := poll
		if next, nerr := p.Store.NextPurge(ctx); err == nil && nerr == nil && !next.IsZero() {
			// A failed purge waits for the poll: it is not retried in a loop.
			wait = min(poll, max(next.Sub(p.Store.Now()), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
