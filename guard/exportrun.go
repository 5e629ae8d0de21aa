package guard

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncguard/syncguard/guard/target"
	"github.com/syncguard/syncguard/store"
)

// exportRun is one pass over a configuration's queue: a producer claims
// exports phase by phase and builds their objects, Concurrency() workers
// send them, and a recorder writes the answers in batches.
type exportRun struct {
	x     *Exporter
	t     *store.Target
	w     target.Writer
	state store.TargetState
	// fresh: the target was empty when syncguard first looked, so a
	// first attempt creates at once.
	fresh bool

	stopped      atomic.Pointer[target.Error] // the transient error that stops the pass
	sent, failed atomic.Int64
	// calls is the context of the calls to the target: it outlives the
	// pass's by the exporter's Grace.
	calls context.Context
}

// job is one export to send: its object, or why it is not sent.
type job struct {
	x    store.Export
	obj  *target.Object
	skip string
}

// Answers are written in batches of up to recordBatch, an answer waiting
// at most recordEvery for others; a phase waits for its answers before
// the next starts. Each write costs a transaction and a few statements
// whatever its size: batches of about a thousand halved that cost.
const (
	recordBatch = 1024
	recordEvery = 50 * time.Millisecond
)

func (r *exportRun) batch() int {
	if r.x.Batch > 0 {
		return r.x.Batch
	}
	return 512
}

// drain sends the queue until nothing is left to send or the target
// fails transiently, and says what it did.
func (r *exportRun) drain(ctx context.Context) (Pass, error) {
	var cancel context.CancelFunc
	if r.x.Grace > 0 {
		r.calls, cancel = AfterStop(ctx, r.x.Grace)
	} else {
		r.calls, cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	defer cancel()
	jobs := make(chan *job, r.batch())
	rc := &recorder{r: r, in: make(chan store.ExportResult, recordBatch)}
	rc.cond = sync.NewCond(&rc.mu)
	recorded := make(chan struct{})
	go func() { defer close(recorded); rc.loop(ctx) }()
	var workers sync.WaitGroup
	for range max(1, r.w.Concurrency()) {
		workers.Go(func() {
			for j := range jobs {
				rc.in <- r.send(ctx, j)
			}
		})
	}
	err := r.produce(ctx, jobs, rc)
	close(jobs)
	workers.Wait()
	close(rc.in)
	<-recorded
	if err == nil {
		err = rc.failure()
	}
	if ctx.Err() != nil {
		err = nil // stopped from outside: what was sent is recorded, the rest waits
	}
	p := Pass{Sent: int(r.sent.Load()), Failed: int(r.failed.Load())}
	if te := r.stopped.Load(); te != nil {
		p.RetryAt = rc.retry
	}
	return p, err
}

// produce claims the pending exports phase by phase and hands them to
// the workers; a phase's answers are recorded before the next phase is
// built (a group names its members by the links their puts recorded).
func (r *exportRun) produce(ctx context.Context, jobs chan<- *job, rc *recorder) error {
	st, id := r.x.Store, r.t.ConfigID
	var issued int64
	for phase := 0; ; {
		next, err := st.NextExportPhase(ctx, id, phase)
		if err != nil || next == 0 {
			return err
		}
		phase = next
		for after := int64(0); !r.stopping(ctx, rc); {
			batch, err := st.ClaimExports(ctx, store.ExportClaim{ConfigID: id, Epoch: r.t.Epoch, Holder: r.x.holder,
				Phase: phase, After: after, Limit: r.batch()})
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			after = batch[len(batch)-1].LogID
			built, err := r.build(ctx, batch)
			if err != nil {
				return err
			}
			for _, j := range built {
				issued++
				jobs <- j
			}
		}
		if r.stopping(ctx, rc) {
			return nil
		}
		rc.wait(issued)
	}
}

// stopping says whether the pass is to stop: ctx ended, the target failed
// transiently, or answers could not be recorded.
func (r *exportRun) stopping(ctx context.Context, rc *recorder) bool {
	return ctx.Err() != nil || r.stopped.Load() != nil || rc.failure() != nil
}

// build makes the jobs of a claimed batch: a put sends the object as the
// target directory copy has it now (ClaimExports read it), with its
// members' and manager's references resolved; a delete or disable what
// its log entry knew.
func (r *exportRun) build(ctx context.Context, batch []store.Export) ([]*job, error) {
	var refAnchors []string
	for i := range batch {
		if o := batch[i].Object; o != nil {
			refAnchors = append(refAnchors, references(o)...)
		}
	}
	refs, err := r.x.Store.TargetRefs(ctx, r.t.ConfigID, refAnchors)
	if err != nil {
		return nil, err
	}
	out := make([]*job, len(batch))
	for i, x := range batch {
		j := &job{x: x}
		switch {
		case x.Kind != store.ExportPut:
			j.obj = &target.Object{Anchor: x.Anchor, Type: x.Type, DN: x.DN, Name: x.Name}
		case x.Object == nil:
			j.skip = "the object left the target directory before it was sent"
		default:
			j.obj = targetObject(x.Object, refs)
		}
		j.x.Object = nil // sent: not kept until the answer is recorded
		out[i] = j
	}
	return out, nil
}

// isAnchor says whether an attribute value is an anchor of a synced object
// (how members, and managers, are kept).
func isAnchor(v string) bool {
	return strings.HasPrefix(v, "guid:") || strings.HasPrefix(v, "uuid:") || strings.HasPrefix(v, "dn:")
}

// references are the anchors o names: its members, its manager.
func references(o *store.TargetObject) []string {
	out := o.Attributes[MembersAttr]
	for name, vals := range o.Attributes {
		if strings.EqualFold(name, "manager") {
			for _, v := range vals {
				if isAnchor(v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// targetObject is o as a writer takes it: members resolved to their source
// DNs and links (members not in the copy left out), a manager kept as an
// anchor resolved to its source DN (dropped when unknown), and whether
// the account is enabled. It takes over o's attributes.
func targetObject(o *store.TargetObject, refs map[string]store.TargetRef) *target.Object {
	obj := &target.Object{Anchor: o.Anchor, Type: o.Type, DN: o.DN, Name: o.Name, Enabled: true, Attributes: o.Attributes}
	for _, a := range o.Attributes[MembersAttr] {
		if ref, ok := refs[a]; ok {
			obj.Members = append(obj.Members, target.Member{Anchor: a, DN: ref.DN, Link: ref.Link})
		}
	}
	delete(obj.Attributes, MembersAttr)
	for name, vals := range obj.Attributes {
		if !strings.EqualFold(name, "manager") {
			continue
		}
		dns := vals[:0:0]
		for _, v := range vals {
			if !isAnchor(v) {
				dns = append(dns, v)
			} else if ref, ok := refs[v]; ok {
				dns = append(dns, ref.DN)
			}
		}
		if len(dns) > 0 {
			obj.Attributes[name] = dns
		} else {
			delete(obj.Attributes, name)
		}
	}
	if o.Type == TypeUser {
		obj.Enabled = AccountEnabled(obj.Attributes)
	}
	return obj
}

// find says how a put looks for its object: a first attempt into a target
// that was empty creates at once; a retry, or an export into a target that
// held objects, looks first.
func (r *exportRun) find(x *store.Export) target.Find {
	if r.fresh && x.Attempts == 0 && x.Link == "" {
		return target.CreateFirst
	}
	return target.LookFirst
}

// send sends one job and returns the answer. A job taken after the pass
// started to stop is not sent. A call once started runs to its end (its
// writer's timeout bounds it) whatever ctx does, unless the exporter's
// Grace runs out first: its answer is recorded. A call cut by Grace has
// no answer: its export stays pending, tried once.
func (r *exportRun) send(ctx context.Context, j *job) store.ExportResult {
	res := store.ExportResult{Export: j.x}
	if j.skip != "" {
		res.Sent, res.Skip = true, j.skip
		return res
	}
	if ctx.Err() != nil || r.stopped.Load() != nil {
		return res
	}
	res.Sent = true
	cctx := r.calls
	link, old := target.Link(""), target.Link(j.x.Link)
	var err error
	switch j.x.Kind {
	case store.ExportPut:
		link, err = r.w.Put(cctx, j.obj, old, r.find(&j.x))
	case store.ExportDelete:
		err = r.w.Delete(cctx, j.obj, old)
	case store.ExportDisable:
		link, err = r.w.Disable(cctx, j.obj, old)
	}
	switch {
	case err != nil && cctx.Err() != nil:
		res.Err, res.Transient = "cut when syncguard stopped", true // not the target's doing
	case err != nil:
		te := target.Classify(err)
		res.Err, res.Transient = te.Message, te.Transient
		if te.Transient {
			r.stopped.CompareAndSwap(nil, te)
		}
	default:
		res.Link = string(link)
	}
	return res
}

// recorder writes the answers in batches, and lets the producer wait until
// the answers of what it issued are written.
type recorder struct {
	r     *exportRun
	in    chan store.ExportResult
	retry time.Time // when the target is tried again, after a stop

	mu       sync.Mutex
	cond     *sync.Cond
	recorded int64
	err      error
}

// loop records the answers until in closes; the last batch carries the
// transient error that stopped the pass, if any.
func (rc *recorder) loop(ctx context.Context) {
	var buf []store.ExportResult
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case res, ok := <-rc.in:
			if !ok {
				rc.flush(ctx, buf, true)
				return
			}
			buf = append(buf, res)
			if len(buf) == 1 {
				timer.Reset(recordEvery)
			}
			if len(buf) < recordBatch {
				continue
			}
		case <-timer.C:
		}
		timer.Stop()
		rc.flush(ctx, buf, false)
		buf = buf[:0]
	}
}

// flush writes buf in one transaction (even after ctx ended: the answers
// are the target's, and must not be lost).
func (rc *recorder) flush(ctx context.Context, buf []store.ExportResult, last bool) {
	r := rc.r
	rep := &store.ExportReport{ConfigID: r.t.ConfigID, Epoch: r.t.Epoch, Holder: r.x.holder, At: r.x.Store.Now(), Results: buf}
	if te := r.stopped.Load(); last && te != nil {
		rc.retry = r.x.retryAt(r.state.Failures, te)
		rep.Unreachable, rep.RetryAt, rep.RetryAsked = te.Message, rc.retry, te.RetryAfter > 0
		r.x.log().Warn("target unreachable", "config", r.t.ConfigID, "err", te.Message, "retry", rc.retry)
	}
	if len(buf) == 0 && rep.Unreachable == "" {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := r.x.Store.RecordExports(wctx, rep)
	for i := range buf {
		switch x := &buf[i]; {
		case err != nil || !x.Sent || x.Skip != "" || x.Transient:
		case x.Err == "":
			r.sent.Add(1)
		default:
			r.failed.Add(1)
			r.x.log().Warn("export refused", "config", r.t.ConfigID, "anchor", x.Anchor, "err", x.Err)
		}
	}
	rc.mu.Lock()
	rc.recorded += int64(len(buf))
	if err != nil && rc.err == nil {
		rc.err = err
	}
	rc.cond.Broadcast()
	rc.mu.Unlock()
}

// wait blocks until n answers are recorded, or recording failed.
func (rc *recorder) wait(n int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for rc.recorded < n && rc.err == nil {
		rc.cond.Wait()
	}
}

func (rc *recorder) failure() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.err
}
