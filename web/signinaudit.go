package web

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/syncguard/syncguard/store"
)

// Audit actions of sign-in attempts.
const (
	actionSignInFailed    = "Sign-in failed"
	actionSignInThrottled = "Sign-in throttled"
)

// signInAudit writes every failed and every throttled sign-in to the audit
// log without letting a flood of them flood the table. Per action, name
// tried and address, one event a minute is written at once; the attempts
// that follow in that minute are counted and written as one event when
// the minute ends. At most auditPerMinute events a minute are written at
// once overall, and at most auditPerMinute counted ones, plus one event
// that sums up the rest: an attacker adds at most about twice
// auditPerMinute events a minute, whatever the rate of attempts.
type signInAudit struct {
	st     *store.Store
	log    *slog.Logger
	window time.Duration

	mu      sync.Mutex
	start   time.Time            // of the current window
	written int                  // events written at once in it
	last    map[string]time.Time // when each key last had an event written at once
	held    map[string]*heldAttempts
	timer   *time.Timer
}

type heldAttempts struct {
	action, name, address string
	n                     int
	first                 time.Time
}

const auditPerMinute = 30

func newSignInAudit(st *store.Store, log *slog.Logger) *signInAudit {
	return &signInAudit{st: st, log: log, window: time.Minute, last: map[string]time.Time{}, held: map[string]*heldAttempts{}}
}

// record audits one attempt: action, the name tried and the address.
func (a *signInAudit) record(ctx context.Context, action, name, address string) {
	if len([]rune(name)) > 100 {
		name = string([]rune(name)[:100]) + "…"
	}
	now := time.Now()
	key := action + "\x00" + name + "\x00" + address
	a.mu.Lock()
	if now.Sub(a.start) >= a.window {
		a.start, a.written = now, 0
	}
	if now.Sub(a.last[key]) >= a.window && a.written < auditPerMinute {
		a.last[key] = now
		a.written++
		a.mu.Unlock()
		a.write(ctx, &store.AuditEvent{Actor: name, Action: action, Details: "from " + address})
		return
	}
	h := a.held[key]
	if h == nil {
		h = &heldAttempts{action: action, name: name, address: address, first: a.st.Now()}
		a.held[key] = h
	}
	h.n++
	if a.timer == nil {
		a.timer = time.AfterFunc(a.window, a.flush)
	}
	a.mu.Unlock()
}

// flush writes what was held back.
func (a *signInAudit) flush() {
	a.mu.Lock()
	held := a.held
	a.held, a.timer = map[string]*heldAttempts{}, nil
	now := time.Now()
	for k, t := range a.last {
		if now.Sub(t) >= a.window {
			delete(a.last, k)
		}
	}
	a.mu.Unlock()
	keys := make([]string, 0, len(held))
	for k := range held {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return held[keys[i]].n > held[keys[j]].n })
	ctx := context.Background()
	var restN int
	names, addrs := map[string]bool{}, map[string]bool{}
	for i, k := range keys {
		h := held[k]
		if i < auditPerMinute {
			a.write(ctx, &store.AuditEvent{Actor: h.name, Action: h.action,
				Details: fmt.Sprintf("from %s: %d more since %s", h.address, h.n, h.first.Local().Format("15:04:05"))})
			continue
		}
		restN += h.n
		names[h.name], addrs[h.address] = true, true
	}
	if restN > 0 {
		a.write(ctx, &store.AuditEvent{Actor: "", Action: "Sign-in failed or throttled",
			Details: fmt.Sprintf("%d more attempts for %d names from %d addresses in the last minute", restN, len(names), len(addrs))})
	}
}

func (a *signInAudit) write(ctx context.Context, e *store.AuditEvent) {
	if err := a.st.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("audit sign-in", "action", e.Action, "err", err)
	}
}
