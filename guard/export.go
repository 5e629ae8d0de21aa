package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/store"
)

// Exporter sends the export queues to the targets (SPEC section 8), after
// the transactions that queued them, as the Outbox sends mail.
//
// One exporter at a time drains a configuration's queue, across processes
// (the export lease, taken over at once from a process of this host that
// is gone). Exports go in phases — users, then the groups that name them,
// then deletions — up to the writer's Concurrency() calls at once. A put
// sends the object as the target directory copy has it when it is sent,
// so that updates queued while the target was away go as one.
//
// Answers land on the exports' provisioning log entries: Success, or
// Failure in the target's words (a refusal: tried again by the next cycle
// the guard lets through). A transient error (the target down, busy,
// rate-limiting) stops the configuration's export: the target is
// "unreachable" since then, and is tried again after Backoff (or the
// Retry-After it asked for).
//
// Each export counts an attempt before it is sent. An export tried before
// — its answer lost to a crash, a cut connection or a shutdown — looks for
// its object before creating it (target.LookFirst), and so does the first
// export of an object into a target that held objects when syncguard first
// looked (matching). Only into a target that was empty then does a first
// export create at once (target.CreateFirst, which still matches when the
// target says the object exists).
//
// When ctx ends, no new call starts; the calls in flight finish (each
// bounded by its writer's timeout, and by Grace) and are recorded, and the
// lease is released. A call cut by Grace, like one of a process killed
// mid-call, leaves its export pending and counted as tried: the next
// exporter looks first, so nothing is created twice.
type Exporter struct {
	Store *store.Store
	Log   *slog.Logger
	// Open makes a configuration's writer; nil → OpenTarget.
	Open func(*store.Target, *store.Configuration) (target.Writer, error)
	// Backoff is the wait after n transient failures in a row when the
	// target gives no Retry-After; nil → Backoff (30s doubling to 15m).
	Backoff func(n int) time.Duration
	// Batch is how many exports are claimed at once; 0 → 512.
	Batch int
	// LeaseTTL is how long the export lease lasts unrenewed; 0 → 30s.
	LeaseTTL time.Duration
	// Grace is how long the calls in flight may run on once ctx ends
	// (serve's --shutdown-timeout); past it they are cut. 0: each runs to
	// its writer's timeout.
	Grace time.Duration

	once    sync.Once
	holder  string
	mu      sync.Mutex
	writers map[int64]*openWriter
}

// openWriter is a configuration's writer, kept between passes while its
// settings hold.
type openWriter struct {
	key string
	w   target.Writer
}

func (x *Exporter) init() {
	x.once.Do(func() {
		x.holder = newHolder()
		x.writers = map[int64]*openWriter{}
	})
}

func (x *Exporter) log() *slog.Logger {
	if x.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return x.Log
}

// Pass is what one pass over a configuration's queue did.
type Pass struct {
	Sent, Failed int // exports the target took, and refused
	// RetryAt is when the target is to be tried again (it is unreachable);
	// zero when the pass did not stop on it.
	RetryAt time.Time
	// Busy: another exporter holds the queue.
	Busy bool
}

// Export makes one pass over a configuration's queue: it sends every
// pending export until none is left or the target fails transiently.
// Without a target, or with nothing pending, or before an unreachable
// target is due again, it does nothing.
func (x *Exporter) Export(ctx context.Context, configID int64) (Pass, error) {
	return x.pass(ctx, configID, false)
}

// pass is Export; now tries an unreachable target before it is due (an
// admin's command asks now), unless the target itself asked for the wait.
func (x *Exporter) pass(ctx context.Context, configID int64, now bool) (Pass, error) {
	x.init()
	st := x.Store
	t, err := st.Target(ctx, configID)
	if err != nil || t.None() {
		return Pass{}, err
	}
	state, err := st.TargetState(ctx, configID)
	if err != nil || state.Pending == 0 {
		return Pass{}, err
	}
	if st.Now().Before(state.RetryAt) && (!now || state.RetryAsked) {
		return Pass{RetryAt: state.RetryAt}, nil
	}
	cfg, err := st.Configuration(ctx, configID)
	if err != nil {
		return Pass{}, err
	}
	ok, err := x.lease(ctx, configID, "")
	if err != nil || !ok {
		return Pass{Busy: err == nil}, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := x.renew(rctx, cancel, configID)
	defer func() {
		cancel(nil)
		<-renewed
		x.release(ctx, configID)
	}()
	w, err := x.writer(t, cfg)
	if err != nil {
		return x.unreachable(ctx, t, state, target.Classify(err))
	}
	if t.Contents == store.ContentsUnknown {
		if t.Contents, err = x.look(rctx, t, w); err != nil {
			return x.unreachable(ctx, t, state, target.Classify(err))
		}
	}
	run := &exportRun{x: x, t: t, w: w, state: state, fresh: t.Contents == store.ContentsEmpty}
	return run.drain(rctx)
}

// look asks a target never exported to whether it holds objects, and
// records the answer.
func (x *Exporter) look(ctx context.Context, t *store.Target, w target.Writer) (string, error) {
	empty, err := w.Empty(ctx)
	if err != nil {
		return "", err
	}
	contents := store.ContentsPopulated
	if empty {
		contents = store.ContentsEmpty
	}
	x.log().Info("target", "config", t.ConfigID, "contents", contents)
	return contents, x.Store.SetTargetContents(ctx, t.ConfigID, t.Epoch, contents)
}

// unreachable records a transient failure that is not an export's (the
// writer could not be made, the first look failed) and says when to try
// again.
func (x *Exporter) unreachable(ctx context.Context, t *store.Target, state store.TargetState, te *target.Error) (Pass, error) {
	if ctx.Err() != nil {
		return Pass{}, ctx.Err()
	}
	retry := x.retryAt(state.Failures, te)
	x.log().Warn("target unreachable", "config", t.ConfigID, "err", te.Message, "retry", retry)
	return Pass{RetryAt: retry}, x.Store.TargetUnreachable(ctx, t.ConfigID, t.Epoch, te.Message, retry, te.RetryAfter > 0)
}

// retryAt is when to try a target again after its failures-th failure in
// a row: when it asked (Retry-After), else after the backoff.
func (x *Exporter) retryAt(failures int, te *target.Error) time.Time {
	wait := te.RetryAfter
	if wait <= 0 {
		backoff := x.Backoff
		if backoff == nil {
			backoff = Backoff
		}
		wait = backoff(failures + 1)
	}
	return x.Store.Now().Add(wait)
}

// QuickBackoff is the backoff of the commands that export what they
// queued before they exit: 1 second, doubling, at most 30 seconds.
func QuickBackoff(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// writer returns the configuration's writer, made again when the target
// or the source base changed since it was made.
func (x *Exporter) writer(t *store.Target, cfg *store.Configuration) (target.Writer, error) {
	key := fmt.Sprintf("%d\x00%s\x00%s\x00%s\x00%s\x00%t\x00%s\x00%s\x00%s", t.Epoch, t.URL, t.BaseDN, t.BindDN,
		t.BindPassword, t.StartTLS, t.CAFile, t.Token, cfg.BaseDN)
	x.mu.Lock()
	defer x.mu.Unlock()
	if ow := x.writers[t.ConfigID]; ow != nil {
		if ow.key == key {
			return ow.w, nil
		}
		ow.w.Close()
		delete(x.writers, t.ConfigID)
	}
	open := x.Open
	if open == nil {
		open = OpenTarget
	}
	w, err := open(t, cfg)
	if err != nil {
		return nil, err
	}
	x.writers[t.ConfigID] = &openWriter{key: key, w: w}
	return w, nil
}

// Close closes the writers the exporter keeps.
func (x *Exporter) Close() error {
	x.init()
	x.mu.Lock()
	defer x.mu.Unlock()
	var errs []error
	for id, ow := range x.writers {
		errs = append(errs, ow.w.Close())
		delete(x.writers, id)
	}
	return errors.Join(errs...)
}

// lease takes (or renews) the export lease of a configuration; one held by
// a process of this host that is gone is taken over at once.
func (x *Exporter) lease(ctx context.Context, configID int64, dead string) (bool, error) {
	host, _ := os.Hostname()
	until := x.Store.Now().Add(x.leaseTTL())
	ok, err := x.Store.AcquireExportLease(ctx, configID, x.holder, os.Getpid(), host, dead, until)
	if err != nil || ok || dead != "" {
		return ok, err
	}
	holder, pid, lhost, err := x.Store.ExportLease(ctx, configID)
	if err != nil || holder == "" {
		return false, err
	}
	if lhost == host && pid != os.Getpid() && !processAlive(pid) {
		return x.lease(ctx, configID, holder)
	}
	return false, nil
}

func (x *Exporter) leaseTTL() time.Duration {
	if x.LeaseTTL > 0 {
		return x.LeaseTTL
	}
	return 30 * time.Second
}

// renew keeps the export lease until ctx ends, and cancels the pass when
// the lease is lost. The returned channel closes when it is done.
func (x *Exporter) renew(ctx context.Context, cancel context.CancelCauseFunc, configID int64) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		every(ctx, x.leaseTTL()/3, func() bool {
			ok, err := x.lease(ctx, configID, "")
			if err == nil && !ok {
				cancel(store.ErrExportLease)
				return false
			}
			return true
		})
	}()
	return done
}

// release gives the lease up, even when ctx ended.
func (x *Exporter) release(ctx context.Context, configID int64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := x.Store.ReleaseExportLease(rctx, configID, x.holder); err != nil {
		x.log().Error("release export lease", "config", configID, "err", err)
	}
}

// Run exports every configuration's queue until ctx ends: at once when
// woken (a cycle or Allow deletes queued exports), when an unreachable
// target is due again, and at least every poll (exports queued by other
// processes). Configurations are exported side by side, each by one pass
// at a time. When ctx ends it waits for the passes to record what they
// sent, and closes its writers.
func (x *Exporter) Run(ctx context.Context, poll time.Duration, wake <-chan struct{}) {
	x.init()
	var mu sync.Mutex
	running := map[int64]bool{}
	var wg sync.WaitGroup
	ended := make(chan struct{}, 1)
	defer func() { wg.Wait(); x.Close() }()
	for {
		queues, err := x.Store.ExportQueues(ctx)
		if err != nil && ctx.Err() == nil {
			x.log().Error("export queues", "err", err)
		}
		wait, now := poll, x.Store.Now()
		for _, q := range queues {
			if q.RetryAt.After(now) {
				wait = min(wait, q.RetryAt.Sub(now))
				continue
			}
			mu.Lock()
			if !running[q.ConfigID] {
				running[q.ConfigID] = true
				wg.Go(func() {
					pass, err := x.Export(ctx, q.ConfigID)
					if err != nil && ctx.Err() == nil {
						x.log().Error("export", "config", q.ConfigID, "err", err)
					}
					mu.Lock()
					delete(running, q.ConfigID)
					mu.Unlock()
					if err == nil && !pass.Busy {
						// Exports queued during the pass go at once; a busy
						// queue or an error waits for the poll.
						select {
						case ended <- struct{}{}:
						default:
						}
					}
				})
			}
			mu.Unlock()
		}
		t := time.NewTimer(max(wait, 100*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			mu.Lock()
			if len(running) > 0 {
				x.log().Info("shutdown: letting the calls to the target in flight finish; the rest of the queue waits",
					"configs", len(running), "grace", x.Grace.String())
			}
			mu.Unlock()
			return
		case <-wake:
		case <-ended:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drained is what Drain did and left.
type Drained struct {
	Sent, Failed int // exports the target took, and refused
	Pending      int // exports left waiting (for serve, or the next command)
	// LastError is the target's last error; Unreachable, that the target
	// failed transiently and was given up on for now.
	LastError   string
	Unreachable bool
}

// Drain exports a configuration's queue for a command about to exit
// (sync, allow-deletes, restart): at once, even to a target that is not
// due again yet (unless it asked for the wait, with Retry-After), then until the queue is empty, or no export went out
// for patience (the target is down, or another process exports and makes
// no progress), or ctx ends. What is left stays queued.
func (x *Exporter) Drain(ctx context.Context, configID int64, patience time.Duration) (Drained, error) {
	var d Drained
	deadline, last := time.Now().Add(patience), -1
	for first := true; ; first = false {
		pass, err := x.pass(ctx, configID, first)
		d.Sent, d.Failed = d.Sent+pass.Sent, d.Failed+pass.Failed
		if err != nil {
			return d, err
		}
		st, err := x.Store.TargetState(ctx, configID)
		if err != nil {
			return d, err
		}
		d.Pending, d.LastError, d.Unreachable = st.Pending, st.LastError, !st.Unreachable.IsZero()
		if st.Pending == 0 || ctx.Err() != nil {
			return d, nil
		}
		if last < 0 || st.Pending < last || pass.Sent+pass.Failed > 0 {
			deadline = time.Now().Add(patience)
		}
		last = st.Pending
		wait := 200 * time.Millisecond
		if !pass.RetryAt.IsZero() {
			wait = max(pass.RetryAt.Sub(x.Store.Now()), time.Millisecond)
		}
		if time.Now().Add(wait).After(deadline) {
			return d, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}
