package guard

import (
	"slices"
	"sync"
)

// pipeline feeds a planner on its own goroutine, in batches, so that
// reading the source (parsing LDIF, decoding LDAP responses) and planning
// use two cores. Entries are copied: sources reuse theirs.
type pipeline struct {
	add   func(*Entry) error
	ch    chan []Entry
	batch []Entry
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
}

const pipelineBatch = 256

func newPipeline(add func(*Entry) error) *pipeline {
	p := &pipeline{add: add, ch: make(chan []Entry, 8)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for batch := range p.ch {
			if p.failed() != nil {
				continue // drain
			}
			for i := range batch {
				if err := p.add(&batch[i]); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
					break
				}
			}
		}
	}()
	return p
}

func (p *pipeline) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Add queues a copy of e; it returns the planner's error once there is one.
func (p *pipeline) Add(e *Entry) error {
	if err := p.failed(); err != nil {
		return err
	}
	// Sources may reuse the attribute and value slices, not the strings:
	// one copy of the slices per entry.
	n := 0
	for _, a := range e.Attrs {
		n += len(a.Values)
	}
	vals := make([]string, 0, n)
	attrs := slices.Clone(e.Attrs)
	for i := range attrs {
		start := len(vals)
		vals = append(vals, attrs[i].Values...)
		attrs[i].Values = vals[start:len(vals):len(vals)]
	}
	p.batch = append(p.batch, Entry{DN: e.DN, Attrs: attrs, Sum: e.Sum})
	if len(p.batch) == pipelineBatch {
		p.ch <- p.batch
		p.batch = make([]Entry, 0, pipelineBatch)
	}
	return nil
}

// Close plans what is queued, stops the goroutine and returns the
// planner's error.
func (p *pipeline) Close() error {
	if len(p.batch) > 0 {
		p.ch <- p.batch
		p.batch = nil
	}
	close(p.ch)
	p.wg.Wait()
	return p.err
}
