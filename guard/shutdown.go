package guard

import (
	"context"
	"sync"
	"time"
)

// Phases follows the phase of the cycles an engine runs, so that a stop
// can tell a cycle that is still reading or planning from one that is
// applying. The first has written nothing: it is abandoned at once, and
// the next start reads the source again. The second is writing its one
// transaction: it is given time to commit. Either way nothing is half
// applied; the difference is how long a stop takes.
type Phases struct {
	mu sync.Mutex
	m  map[int64]*Progress
}

// TrackPhases makes e report its cycles' progress to a new Phases as well
// as to the OnProgress it already had. Call it before e runs a cycle.
func TrackPhases(e *Engine) *Phases {
	p := &Phases{m: map[int64]*Progress{}}
	next := e.OnProgress
	e.OnProgress = func(configID int64, prog *Progress) {
		p.mu.Lock()
		if prog == nil {
			delete(p.m, configID)
		} else {
			p.m[configID] = prog
		}
		p.mu.Unlock()
		if next != nil {
			next(configID, prog)
		}
	}
	return p
}

// Phase returns the phase of the running cycle of a configuration
// ("reading", "planning", "applying"), or "" when none runs. Without
// Phases (nil) every cycle counts as applying: it is waited for.
func (p *Phases) Phase(configID int64) string {
	if p == nil {
		return "applying"
	}
	p.mu.Lock()
	prog := p.m[configID]
	p.mu.Unlock()
	if prog == nil {
		return ""
	}
	phase, _ := prog.Phase.Load().(string)
	return phase
}

// CycleContext returns the context to run a cycle of configID in: a child
// of ctx (which ends when the cycle must stop whatever it is doing) that
// also ends as soon as stop ends, unless the cycle is applying by then.
// Call cancel when the cycle is over.
func (p *Phases) CycleContext(ctx, stop context.Context, configID int64) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(ctx)
	release := context.AfterFunc(stop, func() {
		if p.Phase(configID) != "applying" {
			cancel()
		}
	})
	return cctx, func() { release(); cancel() }
}

// AfterStop returns a context that ends grace after ctx ends: what is in
// hand when syncguard is asked to stop (a transaction committing, a mail
// being sent, a call to a target) gets that long to finish.
func AfterStop(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	release := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(hard, func() { t.Stop() })
	})
	return hard, func() { release(); cancel() }
}
