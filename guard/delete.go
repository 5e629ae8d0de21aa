package guard

import (
	"context"
	"time"

	"github.com/syncguard/syncguard/store"
)

// DeleteConfiguration deletes a configuration for actor. It first takes the
// configuration's cycle lock, as a cycle would: a cycle running here or in
// another process makes it a Conflict (try again when it has finished), and
// no cycle can start while it deletes. Its schedule stops with it: the
// scheduler reads the configurations on every tick. What syncguard wrote to
// a target stays there.
func (e *Engine) DeleteConfiguration(ctx context.Context, configID int64, actor string) error {
	cfg, err := e.Store.Configuration(ctx, configID)
	if err != nil {
		return err
	}
	holder := newHolder()
	ok, err := e.acquire(ctx, configID, holder, time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return store.Errorf(store.Conflict, "A cycle of %s is running: try again when it has finished.", cfg.Name)
	}
	if err := e.Store.DeleteConfiguration(ctx, configID, holder, actor); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		e.Store.ReleaseCycleLock(rctx, configID, holder)
		return err
	}
	return nil
}
